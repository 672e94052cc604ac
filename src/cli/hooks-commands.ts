/** `hooks install | uninstall | verify`. */
import { UsageError } from '../errors.js';
import { openProject } from '../services/context.js';
import { AgentManager } from '../services/agents.js';
import { HooksService } from '../services/hooks-service.js';
import { claudeVersion, VERIFIED_CLAUDE_VERSION, compareVersions } from '../proc/claude-version.js';
import { agentCliSupport, agentCliVersion, isVersionedCli, verifiedCliVersions, type VersionedCli } from '../proc/agent-cli-version.js';
import { CLAUDE_FIX } from '../services/doctor.js';
import { json, table, type Output } from './output.js';
import type { GlobalOptions } from './queue-commands.js';

function targets(names: string[], all: boolean | undefined): string[] | 'all' {
  if (all || names.length === 0) return 'all';
  return names;
}

async function withHooks<T>(g: GlobalOptions, fn: (h: HooksService, m: AgentManager) => Promise<T> | T): Promise<T> {
  const ctx = await openProject({ configPath: g.config, component: 'hooks' });
  try {
    const manager = new AgentManager(ctx.project, ctx.store, ctx.log);
    return await fn(new HooksService(manager), manager);
  } finally {
    await ctx.close();
  }
}

export async function hooksInstallCommand(o: Output, g: GlobalOptions, names: string[], opts: { all?: boolean; json?: boolean }): Promise<void> {
  const r = await withHooks(g, (h) => h.install(targets(names, opts.all)));
  if (opts.json) return json(o, r);
  for (const a of r) {
    if (!a.result) o.out(`${a.agent}: skipped (${a.note})`);
    else o.out(`${a.agent}: ${a.result.changed ? 'installed' : 'already installed'} in ${a.result.file}${a.result.backup ? ` (your file backed up to ${a.result.backup})` : ''}`);
  }
}

export async function hooksUninstallCommand(o: Output, g: GlobalOptions, names: string[], opts: { all?: boolean; json?: boolean }): Promise<void> {
  const r = await withHooks(g, (h) => h.uninstall(targets(names, opts.all)));
  if (opts.json) return json(o, r);
  for (const a of r) {
    if (!a.result) o.out(`${a.agent}: skipped (${a.note})`);
    else if (!a.result.changed) o.out(`${a.agent}: no hornets hooks in ${a.result.file}`);
    else o.out(`${a.agent}: removed${a.result.restoredBackup ? ', your original file restored' : a.result.removedFile ? ' (file was ours; deleted)' : ', your own settings kept'}`);
  }
}

export async function hooksVerifyCommand(o: Output, g: GlobalOptions, names: string[], opts: { all?: boolean; json?: boolean }): Promise<void> {
  const [{ r, needClaude, codex, gemini }, version] = await Promise.all([
    withHooks(g, (h, m) => {
      const list = targets(names, opts.all);
      const agents = list === 'all' ? m.project.config.agents : list.map((n) => m.agentConfig(n));
      // Agents whose profile runs the claude binary itself; the demo agent only speaks its protocol.
      const needClaude = agents.filter((a) => m.profile(a).command[0] === 'claude').map((a) => a.name);
      // Agents of a CLI whose hooks were verified on one version (Codex, Gemini): the binary their profile runs.
      const cliBins = new Map<string, { cli: VersionedCli; agents: string[] }>();
      for (const a of agents) {
        const p = m.profile(a);
        const kind = p.hooks.kind;
        if (!isVersionedCli(kind) || p.delivery === 'push') continue;
        const key = `${kind}\0${p.command[0]!}`;
        cliBins.set(key, { cli: kind, agents: [...(cliBins.get(key)?.agents ?? []), a.name] });
      }
      return { r: h.verify(list), needClaude, cliBins };
    }).then(async (v) => {
      const checked = await Promise.all(
        [...v.cliBins].map(async ([key, { cli, agents }]) => {
          const binary = key.slice(key.indexOf('\0') + 1);
          const version = await agentCliVersion(binary);
          return { cli, binary, agents, version, support: agentCliSupport(cli, binary, version) };
        }),
      );
      const of = (cli: VersionedCli) => checked.filter((c) => c.cli === cli).map(({ cli: _cli, ...rest }) => rest);
      return { ...v, codex: of('codex'), gemini: of('gemini') };
    }),
    claudeVersion(),
  ]);
  const support =
    version === null
      ? 'claude not found on PATH'
      : compareVersions(version, VERIFIED_CLAUDE_VERSION) >= 0
        ? `claude ${version}: every event used is supported (verified on ${VERIFIED_CLAUDE_VERSION})`
        : `claude ${version} is older than ${VERIFIED_CLAUDE_VERSION}, the version hornets was verified on; SessionEnd/StopFailure may not fire`;
  const problems = r.filter((a) => a.result && (Object.values(a.result.events).some((s) => s !== 'installed') || (a.result.untrusted ?? []).length > 0));
  if (opts.json) {
    json(o, { claudeVersion: version, support, agents: r, claudeMissingFor: version === null ? needClaude : [], codex, gemini });
  } else {
    o.out(
      table(
        ['AGENT', 'PROFILE', 'HOOKS', 'USER HOOKS', 'FILE'],
        r.map((a) => {
          if (!a.result) return [a.agent, a.profile, a.note ?? '-', '-', '-'];
          const states = Object.entries(a.result.events);
          const bad = [...states.filter(([, s]) => s !== 'installed').map(([e, s]) => `${e}:${s}`), ...(a.result.untrusted ?? []).map((k) => `untrusted:${k.slice(k.lastIndexOf('/') + 1)}`)];
          return [a.agent, a.profile, bad.length ? bad.join(' ') : `all ${states.length} installed`, String(a.result.userHooks), a.result.file];
        }),
      ),
    );
    o.out(support);
    for (const c of [...codex, ...gemini]) o.out(`${c.support} (${c.agents.join(', ')})`);
  }
  if (problems.length > 0) {
    process.exitCode = 1;
    if (!opts.json) o.err(`hooks missing or stale for ${problems.map((p) => p.agent).join(', ')}: run \`hornets-tui hooks install\``);
  }
  if (version === null && needClaude.length > 0) {
    // The hooks may all be in place, but these agents cannot start without the CLI they run.
    process.exitCode = 1;
    if (!opts.json) o.err(`claude is not on PATH but ${needClaude.join(', ')} run${needClaude.length === 1 ? 's' : ''} it: ${CLAUDE_FIX}`);
  }
  for (const [cli, list] of [
    ['codex', codex],
    ['gemini', gemini],
  ] as const) {
    const missing = list.filter((c) => c.version === null);
    if (missing.length === 0) continue;
    process.exitCode = 1;
    const v = verifiedCliVersions[cli];
    if (!opts.json) o.err(`${v.name} does not run for ${missing.flatMap((c) => c.agents).join(', ')}: install ${v.pkg} (verified on ${v.version})`);
  }
  if (names.length > 0 && opts.all) throw new UsageError('give agent names or --all, not both');
}
