#!/usr/bin/env node
// Claude Code command hook: `hornets-hook.js <Event>`. Always exits 0 (see src/hooks/entry.ts).
import('../dist/src/hooks/entry.js')
  .then((m) => m.main(process.argv))
  .catch(() => undefined)
  .finally(() => {
    process.exitCode = 0;
  });
