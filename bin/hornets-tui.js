#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ so start-up skips any TS compile step.
import('../dist/src/cli.js')
  .then((m) => m.run(process.argv))
  .catch((err) => {
    process.stderr.write(`hornets-tui: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
