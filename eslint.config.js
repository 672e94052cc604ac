// ESLint flat config. The layer rules below are the executable form of ARCHITECTURE.md §"Which rule
// lives where": change both together. Formatting is Prettier's job (eslint-config-prettier turns off
// every stylistic rule that would fight it).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

// ---- import boundaries -----------------------------------------------------------------------
// A flat config keeps only the last block's options for a rule, so each area gets its whole list
// from importRule() instead of stacking blocks.

/** better-sqlite3: only the queue adapter talks to SQLite. */
const sqlite = { group: ['better-sqlite3'], message: 'Only src/queue/ talks to SQLite: go through the MessageStore port (src/queue/store.ts) or a service.' };
/** ioredis: only the Redis adapters (the store in src/queue, the coordination primitives in src/cluster). */
const redis = { group: ['ioredis'], message: 'Only src/queue/ and src/cluster/ talk to Redis: go through the store port or the cluster primitives.' };
/** Starting processes: only src/tmux (tmux), src/proc (every other program) and the demo agent. */
const processes = {
  group: ['child_process', 'node:child_process', 'execa', 'node-pty'],
  message: 'Processes start only in src/tmux (tmux) and src/proc (every other program, via runProgram/spawnDetached).',
};
/** Layers above the adapters: adapters must not import them (dependencies point inwards). */
const layerFolders = ['**/services/**', '**/daemon/**', '**/tui/**', '**/cli/**', '**/cli.js', '**/hooks/**', '**/engine-client/**', '**/recovery/**'];
const upperLayers = (message) => ({ group: layerFolders, message });

function importRule(...patterns) {
  return { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] };
}

const consoleRules = [
  sqlite,
  processes,
  redis,
  {
    group: [
      '**/tmux/**',
      '**/git/**',
      '**/queue/**',
      '**/cluster/**',
      '**/proc/**',
      '**/daemon/**',
      '**/hooks/**',
      '**/cli/**',
      '**/cli.js',
      '**/demo-agent/**',
      '**/engine-client/**',
      '**/recovery/**',
    ],
    message: 'The console (src/tui) imports only src/services, src/domain, src/tui and shared leaves (errors, log, util): add a service.',
  },
  { group: ['**/config/**'], allowTypeImports: true, message: 'The console may import config types only (import type); values come through services.' },
];

const src = 'src/**/*.ts';
const areas = [
  // Default for every module of the product.
  { files: [src], rules: importRule(sqlite, processes, redis) },
  { files: ['src/queue/**/*.ts'], rules: importRule(processes, upperLayers('src/queue is an adapter: it imports only src/domain and shared leaves.')) },
  { files: ['src/tmux/**/*.ts', 'src/proc/**/*.ts'], rules: importRule(sqlite, redis, upperLayers('Process adapters import only src/domain and shared leaves.')) },
  {
    // Cluster coordination (node registry, leader lease, bus) is a Redis adapter like the store.
    files: ['src/cluster/**/*.ts'],
    rules: importRule(sqlite, processes, upperLayers('src/cluster is an adapter: it imports only src/domain and shared leaves.')),
  },
  { files: ['src/git/**/*.ts'], rules: importRule(sqlite, processes, redis, upperLayers('src/git is an adapter: it imports only src/proc, src/domain and shared leaves.')) },
  {
    // Config is a low layer (schemas, loading, paths, env): the layers above read it, not the reverse.
    files: ['src/config/**/*.ts'],
    rules: importRule(sqlite, processes, redis, {
      group: [...layerFolders, '**/queue/**', '**/cluster/**', '**/tmux/**', '**/git/**', '**/proc/**'],
      message: 'src/config imports only src/domain, src/config and shared leaves (types it needs from elsewhere belong in src/domain).',
    }),
  },
  {
    // Shared leaves, importable from anywhere, so they import no layer (that would close a loop).
    files: ['src/errors.ts', 'src/log.ts', 'src/util/**/*.ts'],
    rules: importRule(sqlite, processes, redis, {
      group: [...layerFolders, '**/queue/**', '**/cluster/**', '**/tmux/**', '**/git/**', '**/proc/**', '**/config/**', '**/domain/**'],
      message: 'src/errors.ts, src/log.ts and src/util are leaves: they import only each other, packages and node builtins.',
    }),
  },
  // The demo agent is a separate program standing in for Claude Code: it may start its hooks.
  { files: ['src/demo-agent/**/*.ts'], rules: importRule(sqlite, redis) },
  {
    // Pure domain: relative imports inside src/domain plus src/errors.ts (error classes, no I/O).
    // No node builtins, not even node:crypto: time and randomness come in as parameters so every
    // policy is a table test with an injected clock. src/domain stays flat (no sub-folders).
    files: ['src/domain/**/*.ts'],
    rules: importRule({ regex: '^(?!\\./|\\.\\./errors\\.js$)', message: 'src/domain is pure: it imports only ./ siblings and ../errors.js (no I/O, no packages, no node builtins).' }),
  },
  // The console talks to services and domain only; it never reaches the adapters or the daemon.
  { files: ['src/tui/**/*.ts'], rules: importRule(...consoleRules) },
  {
    // The view-model is pure (rendered from fixtures in unit tests): no blessed, no node I/O, and of
    // the services only the snapshot types.
    files: ['src/tui/view-model.ts'],
    rules: importRule(
      ...consoleRules,
      { regex: '^[^.]', message: 'The view-model is pure: no packages (blessed) and no node builtins.' },
      { group: ['**/services/*', '!**/services/snapshot.js'], message: 'The view-model takes snapshots (services/snapshot.ts); it calls no service.' },
    ),
  },
  {
    // The daemon's client side (endpoint, poke, pid reading) is not the daemon: services must not
    // import src/daemon, which imports services (no package cycle).
    files: ['src/services/**/*.ts'],
    rules: importRule(sqlite, processes, redis, {
      group: ['**/daemon/**', '**/tui/**', '**/cli/**', '**/cli.js'],
      message: 'Services do not import the daemon, the console or the CLI (they import services; the daemon client side lives in src/engine-client).',
    }),
  },
];

// ---- process.env -------------------------------------------------------------------------------
// Read only where configuration is parsed (src/config), in entry points, and by the two runners
// that hand the environment on to child processes.
const envReaders = ['src/config/**/*.ts', 'src/cli.ts', 'src/hooks/entry.ts', 'src/demo-agent/**/*.ts', 'src/tmux/runner.ts', 'src/proc/run.ts'];

// ---- tmux is run only from src/tmux --------------------------------------------------------------
const runsTmux = {
  selector: "CallExpression[callee.name=/^(spawn|spawnSync|execFile|execFileSync|runProgram|spawnDetached)$/][arguments.0.value='tmux']",
  message: 'Only src/tmux runs tmux: use TmuxClient / the TmuxRunner.',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'demo-team/**', '.hornets/**', 'bin/hornets-hook.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: {
        // Type information for every .ts file through the project's tsconfig.json (src, test, scripts).
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // A `default:` does not make a switch over a union exhaustive: a new agent or message state
      // must be handled (or consciously grouped) everywhere it is switched on.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: false }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
    },
  },
  ...areas,
  {
    files: [src],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'process.env is read only in src/config and entry points: take the value (or env) as a parameter.' }],
    },
  },
  { files: envReaders, rules: { 'no-restricted-properties': 'off' } },
  { files: [src], ignores: ['src/tmux/**'], rules: { 'no-restricted-syntax': ['error', runsTmux] } },
  {
    // Plain JavaScript (launchers, scripts, this file): no type information.
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    // The CLI launcher and its code cache, CommonJS so that Node does not start its ESM loader (see the file).
    files: ['bin/hornets-tui.cjs', 'bin/code-cache.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'commonjs',
      globals: { process: 'readonly', require: 'readonly', __dirname: 'readonly', Buffer: 'readonly' },
    },
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
