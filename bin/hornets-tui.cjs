#!/usr/bin/env node
// Launcher. It runs the bundled CLI (dist/cli.cjs, built by `npm run build`) with a V8 code cache
// beside it (dist/cli.cjs.cache): compiling the CLI's JavaScript on every start cost more than most
// commands' own work, and Node 20 caches no compiled code of its own. Without the bundle (a
// tsc-only build) the compiled modules of dist/src/ still work.
//
// `send`, `status` and `queue …` try the lean bundle first (dist/cli-hot.cjs, src/cli-hot.ts, with
// its own cache): a fraction of the full one, without commander, zod or the other commands. It
// answers only the plain forms of those commands with a cached valid configuration, and says so
// before doing anything; otherwise the full CLI runs as before.
//
// The cache is an optimisation only: one that is missing, stale (another bundle, another Node) or
// damaged is ignored (V8 refuses what it cannot use; the key and the length are checked here
// first, and the file's modification time) and rewritten; failing to write it changes nothing but speed.
//
// CommonJS on purpose (bin/hornets-tui.js, the ESM name, only forwards here): an ES module as the
// main file makes Node start its ESM loader, which cost a short command more than all of its own
// work (tens of milliseconds). package.json's `bin` names this file.
'use strict';
const { accessSync, closeSync, constants, fstatSync, openSync, readFileSync, readSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { dirname, join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { Script, constants: vmConstants } = require('node:vm');

// A reader that went away (`hornets-tui queue list --json | head`) is not a failure of ours: leave
// quietly with the exit code so far, as other command-line tools do, instead of dying on an
// unhandled EPIPE with a stack trace. Anything already committed (a queued message) stays.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err && err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const fullBundle = join(__dirname, '..', 'dist', 'cli.cjs');
const hotBundle = join(__dirname, '..', 'dist', 'cli-hot.cjs');
const MAGIC = 'HTC1';

// Command words the lean bundle may answer (it checks the rest of the command line itself).
const hotWords = new Set(['send', 'status', 'queue']);

// Commands that learn into the cache: one-shot ones. The console and the engine run for hours; what
// they compile would only make every short command's cache bigger.
const longRunning = new Set(['', 'daemon run', 'demo-agent', 'attach', 'logs']);

/** What this invocation adds to the cache: the command word (`queue`, `daemon status`, `version`). */
function commandWord(argv) {
  const words = argv.slice(2).filter((a) => !a.startsWith('-'));
  if (argv.length === 3 && (argv[2] === '--version' || argv[2] === '-V')) return 'version';
  if (argv.includes('--headless')) return '';
  const first = words[0] ?? '';
  return first === 'daemon' ? `daemon ${words[1] ?? ''}` : first;
}

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

/** Runs a bundle; returns its exports and a function that updates its cache after the command. */
function loadBundle(bundle) {
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
  const word = commandWord(process.argv);
  const learn = () => {
    if (longRunning.has(word) || learned.includes(word)) return;
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

/** `--version` alone: answered here, without loading the CLI at all (the same file the CLI reads). */
function printVersion() {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8'));
  process.stdout.write(`${pkg.version}\n`);
}

/** The lean bundle's answer: true when it handled the command (and its cache learned from it). */
async function runHot() {
  if (!hotWords.has(commandWord(process.argv))) return false;
  const hot = loadBundle(hotBundle);
  if (!hot || !(await hot.exports.runHot(process.argv))) return false;
  hot.learn();
  return true;
}

async function runFull() {
  const loaded = loadBundle(fullBundle);
  const m = loaded?.exports ?? (await import(pathToFileURL(join(__dirname, '..', 'dist', 'src', 'cli.js')).href));
  await m.run(process.argv);
  loaded?.learn();
}

const missing = (err) => err && err.code === 'ERR_MODULE_NOT_FOUND';
if (commandWord(process.argv) === 'version') printVersion();
else
  Promise.resolve()
    .then(runHot)
    .then((handled) => handled || runFull())
    .catch((err) => {
      const text = missing(err) ? `${err.message} (run \`npm run build\`)` : err && err.message ? err.message : String(err);
      process.stderr.write(`hornets-tui: ${text}\n`);
      process.exitCode = 1;
    });
