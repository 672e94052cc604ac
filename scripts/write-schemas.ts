/** Regenerates schema/*.schema.json from the zod schemas (`npm run schema`); a test keeps them in sync. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonSchemas } from '../src/config/json-schemas.js';
import { packageRoot } from '../src/config/paths.js';

const schemas = jsonSchemas();
const dir = join(packageRoot(), 'schema');
writeFileSync(join(dir, 'hornets.schema.json'), `${JSON.stringify(schemas.hornets, null, 2)}\n`);
writeFileSync(join(dir, 'profile.schema.json'), `${JSON.stringify(schemas.profile, null, 2)}\n`);
process.stdout.write(`wrote ${dir}/hornets.schema.json and profile.schema.json\n`);
