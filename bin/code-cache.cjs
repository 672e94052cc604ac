'use strict';
// The V8 code cache of a bundle (dist/*.cjs), for the launcher (bin/hornets-tui.cjs) and the Node
// hook entry (bin/hornets-hook.cjs): Node 20 caches no compiled code of its own, and compiling a
// bundle's JavaScript on every start cost more than most commands' (and hooks') own work.
//
// The cache is an optimisation only: one that is missing, stale (another bundle, another Node) or
// damaged is ignored (V8 refuses what it cannot use; the key and the length are checked here
// first, and the file's modification time) and rewritten; failing to write it changes nothing but speed.
const { accessSync, closeSync, constants, fstatSync, openSync, readFileSync, readSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { dirname } = require('node:path');
const { pathToFileURL } = require('node:url');
const { Script, constants: vmConstants } = require('node:vm');

const MAGIC = 'HTC1';

/**
 * The modification time a cache file is stamped with (utimes, whole seconds: every file system keeps
 * them), written into its header as well: a random second of 2001-2017, which no write made now can
 * give the file. Anything that rewrites the bytes in place (or half of them) moves the time and the
 * cache is ignored. This replaces a SHA-1 of the data: loading node:crypto and hashing cost a short
 * command more (about 6 ms) than all of its own work, on every run.
 */
function newStamp() {
  return 1_000_000_000 + 2 * Math.floor(Math.random() * 250_000_000);
}

/** The cache for this exact bundle and Node, or null. Layout: MAGIC, header length (u32), header JSON, V8 data. */
function readCache(cacheFile, key) {
  let fd;
  try {
    fd = openSync(cacheFile, 'r');
    // The time and the bytes of the same file (a concurrent writer renames a new one into place).
    const st = fstatSync(fd);
    const buf = Buffer.allocUnsafe(st.size);
    if (readSync(fd, buf, 0, st.size, 0) !== st.size) return null;
    if (buf.toString('latin1', 0, 4) !== MAGIC) return null;
    const headerLength = buf.readUInt32LE(4);
    const header = JSON.parse(buf.toString('utf8', 8, 8 + headerLength));
    const data = buf.subarray(8 + headerLength);
    if (header.key !== key || data.length !== header.bytes || !Array.isArray(header.learned)) return null;
    // V8 checks versions and flags but not the bytes: damaged data would crash the process.
    if (typeof header.stamp !== 'number' || Math.floor(st.mtimeMs / 1000) !== header.stamp) return null;
    return { data, learned: header.learned };
  } catch {
    return null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function writeCache(cacheFile, key, learned, data) {
  const stamp = newStamp();
  const header = Buffer.from(JSON.stringify({ key, learned, bytes: data.length, stamp }));
  const size = Buffer.alloc(4);
  size.writeUInt32LE(header.length);
  // Temp file + rename: a reader never sees half a cache, and concurrent writers each leave a whole one.
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, Buffer.concat([Buffer.from(MAGIC, 'latin1'), size, header, data]), { mode: 0o644 });
    utimesSync(tmp, stamp, stamp);
    renameSync(tmp, cacheFile);
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
  }
}

/**
 * Runs a bundle; returns its exports and a function that updates its cache after the work. `word`
 * names what this run adds to the cache (a command, a hook event); null: this run adds nothing.
 */
function loadBundle(bundle, word) {
  const cacheFile = `${bundle}.cache`;
  let source;
  let st;
  try {
    st = statSync(bundle);
    // latin1: the build escapes every non-ASCII character outside comments (--charset=ascii), and a
    // one-byte string is the cheapest to read and to compile.
    source = readFileSync(bundle, 'latin1');
  } catch {
    return null;
  }
  const key = `${process.version} ${process.arch} ${st.size} ${st.mtimeMs} ${st.ino}`;
  const cache = readCache(cacheFile, key);
  // The CommonJS wrapper, plus the value the bundle uses for `import.meta.url` (see the build script).
  const wrapper = `(function (exports, require, module, __filename, __dirname, __hornetsImportMetaUrl) {${source}\n})`;
  // import() inside the bundle (of a module left outside it) as in any CommonJS module, where Node has it.
  const importModuleDynamically = vmConstants?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
  const script = new Script(wrapper, { filename: bundle, cachedData: cache?.data, ...(importModuleDynamically ? { importModuleDynamically } : {}) });
  const mod = { exports: {} };
  script.runInThisContext()(mod.exports, createRequire(bundle), mod, bundle, dirname(bundle), pathToFileURL(bundle).href);
  const learned = cache && !script.cachedDataRejected ? cache.learned : [];
  const learn = () => {
    if (word === null || learned.includes(word)) return;
    try {
      accessSync(dirname(bundle), constants.W_OK);
    } catch {
      return; // a read-only install: do not pay for a cache that cannot be kept
    }
    // After the command: the functions it compiled are in the cache, with those of earlier commands.
    writeCache(cacheFile, key, [...learned, word], script.createCachedData());
  };
  return { exports: mod.exports, learn };
}

module.exports = { loadBundle };
