#!/usr/bin/env node
// Launcher. It runs the bundled CLI (dist/cli.cjs, built by `npm run build`) with a V8 code cache
// beside it (dist/cli.cjs.cache; see code-cache.cjs). Without the bundle (a tsc-only build) the
// compiled modules of dist/src/ still work.
//
// `send`, `status` and `queue …` try the lean bundle first (dist/cli-hot.cjs, src/cli-hot.ts, with
// its own cache): a fraction of the full one, without commander, zod or the other commands. It
// answers only the plain forms of those commands with a cached valid configuration, and says so
// before doing anything; otherwise the full CLI runs as before.
//
// CommonJS on purpose (bin/hornets-tui.js, the ESM name, only forwards here): an ES module as the
// main file makes Node start its ESM loader, which cost a short command more than all of its own
// work (tens of milliseconds). package.json's `bin` names this file.
'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

/** code-cache.cjs (and node:vm) only when a bundle runs: `--version` needs neither. */
const loadBundle = (bundle, word) => require('./code-cache.cjs').loadBundle(bundle, word);

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

/** What this run adds to the cache: its command word; nothing for the long-running ones. */
function learnWord() {
  const word = commandWord(process.argv);
  return longRunning.has(word) ? null : word;
}

/** `--version` alone: answered here, without loading the CLI at all (the same file the CLI reads). */
function printVersion() {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8'));
  process.stdout.write(`${pkg.version}\n`);
}

/** The lean bundle's answer: true when it handled the command (and its cache learned from it). */
async function runHot() {
  if (!hotWords.has(commandWord(process.argv))) return false;
  const hot = loadBundle(hotBundle, learnWord());
  if (!hot || !(await hot.exports.runHot(process.argv))) return false;
  hot.learn();
  return true;
}

async function runFull() {
  const loaded = loadBundle(fullBundle, learnWord());
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
