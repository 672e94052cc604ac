#!/usr/bin/env node
// One run of a task worker (what its tmux window runs): src/proc/task-run.ts without the CLI's
// start-up cost (commander, the bundle), since it sits between a task file and its run starting.
import { runTask } from '../dist/src/proc/task-run.js';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: hornets-task-run <run directory>\n');
  process.exit(2);
}
await runTask(dir, process.env);
process.exit(0);
