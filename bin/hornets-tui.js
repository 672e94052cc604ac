#!/usr/bin/env node
// The CLI under its historical name, for scripts and tools that run `node bin/hornets-tui.js`: the
// launcher is bin/hornets-tui.cjs (package.json's `bin`), CommonJS so that a command does not pay
// for Node's ESM loader; this ES module only forwards to it, and so starts slower.
import { createRequire } from 'node:module';

createRequire(import.meta.url)('./hornets-tui.cjs');
