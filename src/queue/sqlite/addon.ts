/** Where better-sqlite3's compiled addon is, for every connection this process opens. */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

let addon: { nativeBinding?: string } | undefined;
/**
 * better-sqlite3's compiled addon by its path. Its own lookup (the `bindings` package) loads two more
 * modules, tries a dozen paths and builds an Error for a stack trace on every start: a hook with no
 * daemon paid for it on every tool call. The first three places `bindings` tries, in its order.
 * None there (an unusual install): `bindings` itself, told where better-sqlite3 is — needed because
 * the bundled CLI and hook carry better-sqlite3's JavaScript, and `bindings` would otherwise look
 * for the addon beside the bundle.
 */
export function sqliteAddon(): { nativeBinding?: string } {
  if (addon === undefined) {
    addon = {};
    try {
      const req = createRequire(import.meta.url);
      const pkg = dirname(req.resolve('better-sqlite3/package.json'));
      const build = join(pkg, 'build');
      const path = [join(build, 'better_sqlite3.node'), join(build, 'Debug', 'better_sqlite3.node'), join(build, 'Release', 'better_sqlite3.node')].find((p) => existsSync(p));
      if (path) addon = { nativeBinding: path };
      else {
        const bindings = req('bindings') as (o: { bindings: string; module_root: string }) => object;
        // better-sqlite3 takes the loaded addon object too (its lib/database.js); its types say string only.
        addon = { nativeBinding: bindings({ bindings: 'better_sqlite3.node', module_root: pkg }) as unknown as string };
      }
    } catch {
      // not resolvable from here: better-sqlite3 finds itself (unbundled)
    }
  }
  return addon;
}
