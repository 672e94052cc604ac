/**
 * deploy/docker/Dockerfile, checked statically (no container engine runs on the build machines):
 * its stages, user, volumes, health check, entrypoint and command against deploy/node.json, no
 * secret baked in, every COPY source present in the repository and not excluded by .dockerignore,
 * and the agent CLI versions pinned where the tests pin them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cli.js';

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** Instructions in order: comments dropped, `\` continuations joined, each tagged with its stage. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let stage = -1;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (pending === '' && /^\s*#/.test(line)) continue;
    if (pending !== '' && /^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (full === '') continue;
    const m = /^(\w+)\s+([\s\S]*)$/.exec(full);
    if (!m) throw new Error(`cannot read Dockerfile line: ${full}`);
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') stage++;
    out.push({ op, args: m[2]!.trim(), stage });
  }
  return out;
}

const node = JSON.parse(readFileSync(join(repoRoot, 'deploy', 'node.json'), 'utf8')) as {
  command: string[];
  metricsHostEnv: string;
  metricsHost: string;
  metricsPortEnv: string;
  metricsPort: number;
  liveness: { path: string };
  stateDir: string;
  workDir: string;
  user: { name: string; uid: number };
};
const dockerfile = readFileSync(join(repoRoot, 'deploy', 'docker', 'Dockerfile'), 'utf8');
const all = parseDockerfile(dockerfile);
const lastStage = Math.max(...all.map((i) => i.stage));
const runtime = all.filter((i) => i.stage === lastStage);
const one = (op: string) => {
  const found = runtime.filter((i) => i.op === op);
  expect(found, op).toHaveLength(1);
  return found[0]!.args;
};
/** `KEY=value KEY2="v 2"` of ENV lines (and ARG defaults). */
function assignments(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:=("[^"]*"|\S*))?/g)) out[m[1]!] = (m[2] ?? '').replace(/^"|"$/g, '');
  return out;
}

describe('deploy/docker/Dockerfile', () => {
  it('has a build stage with the toolchain and a runtime stage on node:20-bookworm-slim with tmux, git and tini', () => {
    const froms = all.filter((i) => i.op === 'FROM').map((i) => i.args);
    expect(froms).toEqual(['${NODE_IMAGE} AS build', '${NODE_IMAGE} AS runtime']);
    const globalArg = all.find((i) => i.op === 'ARG' && i.stage === -1 && i.args.startsWith('NODE_IMAGE='));
    expect(globalArg?.args).toBe('NODE_IMAGE=node:20-bookworm-slim');
    const buildRuns = all.filter((i) => i.stage === 0 && i.op === 'RUN').map((i) => i.args);
    expect(buildRuns.join('\n')).toMatch(/apt-get install [^\n]*\bpython3\b[^\n]*\bmake\b[^\n]*\bg\+\+/);
    expect(buildRuns.join('\n')).toContain('npm run build');
    const runtimeRuns = runtime.filter((i) => i.op === 'RUN').map((i) => i.args);
    const install = runtimeRuns.find((r) => r.includes('apt-get install'))!;
    for (const pkg of ['tmux', 'git', 'tini']) expect(install).toMatch(new RegExp(`\\b${pkg}\\b`));
    // No compiler in the runtime image.
    expect(install).not.toMatch(/\b(g\+\+|gcc|make)\b/);
  });

  it('runs as the non-root user of node.json, with state and work directories on volumes', () => {
    const user = one('USER');
    expect(user).toBe(node.user.name);
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(dockerfile).toContain(`--uid ${node.user.uid}`);
    expect(JSON.parse(one('VOLUME'))).toEqual([node.stateDir, node.workDir]);
    expect(runtime.filter((i) => i.op === 'WORKDIR').at(-1)!.args).toBe(node.workDir);
    expect(assignments(one('ENV')).HORNETS_HOME).toBe(node.stateDir);
  });

  it("starts node.json's command under tini and listens where node.json says", () => {
    expect(JSON.parse(one('CMD'))).toEqual(node.command);
    expect(JSON.parse(one('ENTRYPOINT'))).toEqual(['tini', '--']);
    const env = assignments(one('ENV'));
    expect(env[node.metricsHostEnv]).toBe(node.metricsHost);
    expect(env[node.metricsPortEnv]).toBe(String(node.metricsPort));
    expect(env.HORNETS_DOWN_ON_SIGNAL).toBe('1');
    expect(one('EXPOSE')).toBe(String(node.metricsPort));
    expect(one('STOPSIGNAL')).toBe('SIGTERM');
  });

  it("health-checks node.json's liveness path on its port", () => {
    const hc = one('HEALTHCHECK');
    const cmd = JSON.parse(hc.slice(hc.indexOf('CMD') + 3).trim()) as string[];
    expect(cmd.slice(0, 2)).toEqual(['node', '-e']);
    expect(cmd[2]).toContain(`process.env.${node.metricsPortEnv} || '${node.metricsPort}'`);
    expect(cmd[2]).toContain(`'${node.liveness.path}'`);
    expect(cmd[2]).toContain('http://127.0.0.1:');
  });

  it('bakes in no secret: no ENV or ARG named like a key, token or password, no key-shaped value', () => {
    for (const i of all.filter((x) => x.op === 'ENV' || x.op === 'ARG')) {
      for (const name of Object.keys(assignments(i.args))) expect(name).not.toMatch(/KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL/i);
    }
    expect(dockerfile).not.toMatch(/sk-[A-Za-z0-9]{10,}|AIza[0-9A-Za-z_-]{20,}/);
  });

  it('copies only what exists in the repository and .dockerignore lets through', () => {
    const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const copies = all.filter((i) => i.op === 'COPY' && !i.args.includes('--from='));
    expect(copies.length).toBeGreaterThan(3);
    for (const c of copies) {
      const parts = c.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) {
        expect(existsSync(join(repoRoot, src)), `COPY ${src}`).toBe(true);
        expect(
          ignored.some((p) => src === p || src.startsWith(`${p}/`)),
          `${src} is excluded by .dockerignore`,
        ).toBe(false);
      }
    }
    // The build's own inputs are copied: the tsc project includes test/bench and test/helpers/workers.
    const sources = copies.flatMap((c) => c.args.split(/\s+/).slice(0, -1));
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.build.json', 'src', 'scripts', 'native', 'bin', 'profiles', 'test']) expect(sources).toContain(needed);
  });

  it('pins the agent CLIs at the versions the tests pin', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    const clis = (JSON.parse(readFileSync(join(repoRoot, 'scripts', 'agent-clis.json'), 'utf8')) as { clis: { pkg: string; version: string }[] }).clis;
    const args = Object.assign({}, ...runtime.filter((i) => i.op === 'ARG').map((i) => assignments(i.args))) as Record<string, string>;
    expect(args.CLAUDE_CODE_VERSION).toBe(pkg.devDependencies['@anthropic-ai/claude-code']);
    expect(args.CODEX_VERSION).toBe(clis.find((c) => c.pkg === '@openai/codex')!.version);
    expect(args.GEMINI_CLI_VERSION).toBe(clis.find((c) => c.pkg === '@google/gemini-cli')!.version);
    expect(args.AGENT_CLIS).toBe('claude');
  });
});
