/**
 * The two command hook clients, for tests that must hold for both: the native one
 * (dist/hornets-hook-native, built by `npm run build` when a C compiler is there) and the bash one
 * (bin/hornets-hook, what is installed without a compiler). Same argv, same protocol.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { findOnPath } from '../../src/proc/which.js';

const root = path.resolve(__dirname, '../..');

export const nativeHookClient = path.join(root, 'dist', 'hornets-hook-native');
export const bashHookClient = path.join(root, 'bin', 'hornets-hook');

/** A compiler on PATH means the build must have made the native client: its tests never skip quietly. */
export const compilerPresent = findOnPath(process.env.CC?.trim().split(/\s+/)[0] || 'cc', process.env.PATH) !== null;
export const nativeBuilt = existsSync(nativeHookClient);

export interface HookClient {
  name: 'native' | 'bash';
  program: string;
  /** False only for the native client on a machine with no C compiler (the build skipped it). */
  available: boolean;
}

export const hookClients: HookClient[] = [
  { name: 'native', program: nativeHookClient, available: nativeBuilt || compilerPresent },
  { name: 'bash', program: bashHookClient, available: true },
];
