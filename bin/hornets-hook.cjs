#!/usr/bin/env node
'use strict';
// Command hook with no daemon (bin/hornets-hook falls back to it): `hornets-hook.cjs <Event>`.
// Always exits 0 (see src/hooks/entry.ts). CommonJS on purpose: one bundled CommonJS file loads
// without Node's ESM loader, whose start-up cost more on every tool call than the hook's own work.
// The bundle runs with its V8 code cache (dist/hook-entry.cjs.cache, see code-cache.cjs), which
// learns each hook event once: compiling it was a good part of what a hook with no daemon cost.
const { join } = require('node:path');

Promise.resolve()
  .then(() => {
    const event = process.argv[2] ?? '';
    const loaded = require('./code-cache.cjs').loadBundle(join(__dirname, '..', 'dist', 'hook-entry.cjs'), /^[A-Za-z]{1,40}$/.test(event) ? event : null);
    if (!loaded) return import('../dist/src/hooks/entry.js').then((m) => m.main(process.argv));
    return Promise.resolve(loaded.exports.main(process.argv)).then(() => loaded.learn());
  })
  .catch(() => undefined)
  .finally(() => {
    // Exit now, not when the event loop drains: the entry leaves its database open on purpose (see
    // src/hooks/entry.ts), and a natural exit would close it, checkpointing the WAL.
    process.exit(0);
  });
