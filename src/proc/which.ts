/** Finds a program on PATH the way a shell would, without starting anything. */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

export function findOnPath(program: string, pathVar: string | undefined): string | null {
  const executable = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  };
  if (program.includes('/') || isAbsolute(program)) return executable(program) ? program : null;
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, program);
    if (executable(file)) return file;
  }
  return null;
}
