/**
 * A wake for a node's engine as it goes over pub/sub (the bus reads it: bus.ts). Built without zod
 * or ioredis, so `send` can publish it on the store's connection it already has open, with no
 * module to load and no second connection to open first.
 */
import { clusterKeys } from './keys.js';

export interface WakeFrame {
  channel: string;
  message: string;
}

export function wakeFrame(prefix: string, node: string, agent?: string): WakeFrame {
  return { channel: clusterKeys(prefix).wakeChannel(node), message: JSON.stringify({ kind: 'wake', node, ...(agent !== undefined ? { agent } : {}) }) };
}
