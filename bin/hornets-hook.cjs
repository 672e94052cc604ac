#!/usr/bin/env node
'use strict';
// Command hook with no daemon (bin/hornets-hook falls back to it): `hornets-hook.cjs <Event>`.
// Always exits 0 (see src/hooks/entry.ts). CommonJS on purpose: one bundled CommonJS file loads
// without Node's ESM loader, whose start-up cost more on every tool call than the hook's own work.
let run;
try {
  run = require('../dist/hook-entry.cjs').main;
} catch {
  run = (argv) => import('../dist/src/hooks/entry.js').then((m) => m.main(argv));
}
Promise.resolve()
  .then(() => run(process.argv))
  .catch(() => undefined)
  .finally(() => {
    process.exitCode = 0;
  });
