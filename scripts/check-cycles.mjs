// Import cycles, the part of the layer rules ESLint cannot see (ARCHITECTURE.md): madge builds the
// module graph of src/ (TypeScript resolution, so `./x.js` finds x.ts) and this fails on
//   - a cycle between modules, and
//   - a cycle between top-level folders of src/ (packages), e.g. services -> daemon -> services,
//     which per-file rules miss when no single file closes the loop.
import madge from 'madge';

const res = await madge('src', { fileExtensions: ['ts'], tsConfig: 'tsconfig.json', detectiveOptions: { ts: { skipTypeImports: false } } });
const graph = res.obj();
const problems = [];

for (const cycle of res.circular()) problems.push(`module cycle: ${[...cycle, cycle[0]].join(' -> ')}`);

// Folder graph, with one example import per edge for the message.
const pkg = (file) => (file.includes('/') ? file.slice(0, file.indexOf('/')) : file);
const edges = new Map();
for (const [from, deps] of Object.entries(graph)) {
  for (const to of deps) {
    const a = pkg(from);
    const b = pkg(to);
    if (a === b) continue;
    if (!edges.has(a)) edges.set(a, new Map());
    if (!edges.get(a).has(b)) edges.get(a).set(b, `${from} -> ${to}`);
  }
}
// Tarjan's strongly connected components: every component with more than one folder is a cycle.
let index = 0;
const idx = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const connect = (v) => {
  idx.set(v, index);
  low.set(v, index++);
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!idx.has(w)) {
      connect(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) {
      const inside = new Set(component);
      const examples = component.flatMap((a) => [...(edges.get(a) ?? [])].filter(([b]) => inside.has(b)).map(([, e]) => `    ${e}`));
      problems.push(`folder cycle between ${component.sort().join(', ')}:\n${examples.join('\n')}`);
    }
  }
};
for (const v of [...edges.keys()].sort()) if (!idx.has(v)) connect(v);

if (problems.length > 0) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`no import cycles (${Object.keys(graph).length} modules)\n`);
