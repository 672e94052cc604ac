#!/usr/bin/env node
// Claude Code command hook (the path with no daemon): `hornets-hook.js <Event>`. Always exits 0
// (see src/hooks/entry.ts). It loads a single bundled file: resolving ~30 ES modules on every
// tool call costs more than the hook's own work.
import('../dist/hook-entry.mjs')
  .catch(() => import('../dist/src/hooks/entry.js'))
  .then((m) => m.main(process.argv))
  .catch(() => undefined)
  .finally(() => {
    process.exitCode = 0;
  });
