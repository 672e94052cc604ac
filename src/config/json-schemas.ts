/** JSON Schemas of hornets.json and of a profile, generated from the zod schemas (`config schema`, `npm run schema`). */
import * as z from 'zod';
import { hornetsConfigSchema, profileSchema } from './schema.js';

export function jsonSchemas(): { hornets: unknown; profile: unknown } {
  // `io: 'input'`: editors check what users write, where defaulted keys are optional.
  return {
    hornets: { title: 'hornets.json', ...z.toJSONSchema(hornetsConfigSchema, { io: 'input', unrepresentable: 'any' }) },
    profile: { title: 'hornets-tui agent profile', ...z.toJSONSchema(profileSchema, { io: 'input', unrepresentable: 'any' }) },
  };
}
