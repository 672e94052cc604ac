// Builds the native hook client (native/hornets-hook.c -> dist/hornets-hook-native), part of
// `npm run build`. The hook runs on every tool call of every agent: a C binary starts in well under
// a millisecond where bash alone takes ~16 ms on a slow machine. No compiler, or a compiler that
// fails: one line, and the build goes on; the installer then keeps the bash client
// (bin/hornets-hook), which speaks the same protocol (src/services/hooks-program.ts decides).
// $CC is honoured (default cc); -O2, libc only.
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native', 'hornets-hook.c');
const out = join(root, 'dist', 'hornets-hook-native');
// Compiled beside the target, then renamed over it: a hook running the old binary right now keeps
// it (no "text file busy", no half-written file ever executed).
const tmp = `${out}.tmp-${process.pid}`;
// Split on blanks like make does, so CC='ccache gcc' works.
const [cc = 'cc', ...ccArgs] = (process.env.CC ?? '').trim().split(/\s+/).filter(Boolean);

mkdirSync(dirname(out), { recursive: true });
const r = spawnSync(cc, [...ccArgs, '-O2', '-std=c99', '-Wall', '-o', tmp, source], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
if (r.error || r.status !== 0) {
  rmSync(tmp, { force: true });
  const why = r.error ? r.error.message : (r.stderr.trim().split('\n')[0] ?? `exit ${r.status}`);
  console.log(`native hook client not built (${cc}: ${why}); hooks use the bash client bin/hornets-hook`);
} else {
  if (r.stderr.trim()) process.stderr.write(r.stderr);
  renameSync(tmp, out);
}
