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
const compile = (extra) => spawnSync(cc, [...ccArgs, '-O2', '-std=c99', '-Wall', ...extra, '-o', tmp, source], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
// Linked statically where the C library allows it (glibc's libc.a, musl): no dynamic loader on every
// start, a third of the instructions of the whole run (callgrind: 39k against 128k). It uses nothing
// static glibc warns about (no name service). Without a static libc, the usual dynamic link.
let r = compile(['-static']);
if (r.error || r.status !== 0) r = compile([]);
if (r.error || r.status !== 0) {
  rmSync(tmp, { force: true });
  const why = r.error ? r.error.message : (r.stderr.trim().split('\n')[0] ?? `exit ${r.status}`);
  console.log(`native hook client not built (${cc}: ${why}); hooks use the bash client bin/hornets-hook`);
} else {
  if (r.stderr.trim()) process.stderr.write(r.stderr);
  renameSync(tmp, out);
}
