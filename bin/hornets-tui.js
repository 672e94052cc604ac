#!/usr/bin/env node
// Thin launcher. It loads the bundled CLI (dist/cli-bundle/, built by `npm run build`): resolving
// and linking ~100 ES modules of dist/src/ on every start cost more than most commands' own work.
// The bundle is split per command, so `--version`, `send` or `status` load only what they use.
// Without the bundle (a tsc-only build) the compiled modules of dist/src/ still work.
const missing = (err) => err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('cli-bundle');
import('../dist/cli-bundle/cli.mjs')
  .catch((err) => {
    if (missing(err)) return import('../dist/src/cli.js');
    throw err;
  })
  .then((m) => m.run(process.argv))
  .catch((err) => {
    process.stderr.write(`hornets-tui: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
