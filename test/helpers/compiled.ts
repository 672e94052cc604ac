/** Worker processes run compiled JavaScript from dist/; `npm run build` (part of `npm test`) makes it. */
import { existsSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

/** dist/ path of a compiled file given its source path relative to the repo, e.g. `test/helpers/workers/x.ts`. */
export function compiledPath(sourceRel: string): string {
  const js = path.join(root, 'dist', sourceRel.replace(/\.ts$/, '.js'));
  if (!existsSync(js)) throw new Error(`${path.relative(root, js)} is missing: run \`npm run build\` before these tests`);
  return js;
}
