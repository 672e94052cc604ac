/** `doctor [--json]`: what is wrong with this machine or project, each problem with its fix; exit 1 if anything is. */
import { launchEnv } from '../config/process-env.js';
import { openProject } from '../services/context.js';
import { runDoctor } from '../services/doctor.js';
import { json, table, type Output } from './output.js';
import type { GlobalOptions } from './queue-commands.js';

export async function doctorCommand(o: Output, g: GlobalOptions, opts: { json?: boolean }): Promise<void> {
  const ctx = await openProject({ configPath: g.config, component: 'doctor' });
  let checks;
  try {
    checks = await runDoctor({ project: ctx.project, store: ctx.store, log: ctx.log, env: launchEnv() });
  } finally {
    await ctx.close();
  }
  const problems = checks.filter((c) => !c.ok);
  if (opts.json) {
    json(o, { ok: problems.length === 0, project: ctx.project.configPath, checks });
  } else {
    o.out(
      table(
        ['CHECK', 'OK', 'DETAIL'],
        checks.map((c) => [c.name, c.ok ? 'ok' : 'FAIL', c.detail]),
      ),
    );
    if (problems.length === 0) o.out('\nno problems found');
    else {
      o.out(`\n${problems.length} problem${problems.length === 1 ? '' : 's'}; to fix:`);
      for (const p of problems) o.out(`  ${p.name}: ${p.fix}`);
    }
  }
  if (problems.length > 0) process.exitCode = 1;
}
