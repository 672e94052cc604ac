/** Opens a project: config, state dir, logger and store. The composition root owns the result. */
import { loadProject, type LoadOptions, type ProjectSources } from '../config/load.js';
import { readCachedProject, writeProjectCache } from '../config/project-cache.js';
import { ensureStateDirs } from '../config/paths.js';
import { openProjectContext, type ProjectContext } from './project-context.js';
import { createLogger, silentLogger } from '../log.js';

export { queueLimits, openProjectContext, type ProjectContext } from './project-context.js';

export async function openProject(options: LoadOptions & { component?: string } = {}): Promise<ProjectContext> {
  // The validated-config cache (config/project-cache.ts) when nothing changed; otherwise validate
  // with the zod schemas (and record the result for the next command).
  let project = readCachedProject(options);
  if (!project) {
    const sources: ProjectSources = { files: [], dirs: [], briefings: [] };
    project = loadProject(options, sources);
    ensureStateDirs(project.paths);
    writeProjectCache(project, sources, options);
  }
  return openProjectContext(project, options.component, { create: createLogger, silent: silentLogger });
}
