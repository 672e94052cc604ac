/** Where better-sqlite3's compiled addon is, for every connection this process opens. */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

let addon: string | null | undefined;
/**
 * better-sqlite3's compiled addon by its path. Its own lookup (the `bindings` package) loads two more
 * modules, tries a dozen paths and builds an Error for a stack trace on every start: a hook with no
 * daemon paid for it on every tool call. The first three places `bindings` tries, in its order; none
 * there (an unusual install): its own lookup, as before.
 */
export function sqliteAddon(): { nativeBinding?: string } {
  if (addon === undefined) {
    addon = null;
    try {
      const build = join(dirname(createRequire(import.meta.url).resolve('better-sqlite3')), '..', 'build');
      addon = [join(build, 'better_sqlite3.node'), join(build, 'Debug', 'better_sqlite3.node'), join(build, 'Release', 'better_sqlite3.node')].find((p) => existsSync(p)) ?? null;
    } catch {
      // not resolvable from here: better-sqlite3 finds itself
    }
  }
  return addon === null ? {} : { nativeBinding: addon };
}
