/**
 * Redis key names of the cluster coordination primitives. Every key lives under the project prefix
 * `hornets:<project>:`, so several projects can share one Redis.
 *
 *   hornets:<p>:{cluster}:node:<name>      string, the live claim of a node name: value = instance
 *                                          token, PX = lostAfterMs + stallGraceMs (gone = the node is
 *                                          lost or stopped, and its name free)
 *   hornets:<p>:{cluster}:nodes            hash, name -> JSON NodeInfo + since (every node ever seen)
 *   hornets:<p>:{cluster}:beats            hash, name -> last heartbeat (ms, the node's clock)
 *   hornets:<p>:{cluster}:seen             hash, name -> `<cluster clock at its last beat>:<lostAfterMs>`
 *   hornets:<p>:{cluster}:clock            hash, t: Redis TIME (ms) of the last beat of any node,
 *                                          l: the cluster clock then, c: the most it advances per beat
 *   hornets:<p>:{cluster}:stopped          hash, name -> when it unregistered cleanly (ms)
 *   hornets:<p>:{cluster}:lease:<duty>     string, the leader lease of a duty: `<instance> <fence>`,
 *                                          PX = leaseMs
 *   hornets:<p>:{cluster}:fence:<duty>     integer, the newest fencing token issued (INCR per election)
 *   hornets:<p>:{node:<name>}:wake     pub/sub channel of a node's wake-ups (at most once)
 *   hornets:<p>:{node:<name>}:control  stream of a node's control messages (durable, MAXLEN ~)
 *
 * Hash tags: the registry and leader keys share `{cluster}` so their Lua scripts (which touch several
 * of them) also run on Redis Cluster; a node's channel and stream are tagged by the node, so the
 * traffic of different nodes spreads over the slots. A project or node name never contains `{`, `}`
 * or `:` (checked here), so it cannot change the hash tag or forge another key.
 */
import { ClusterNameError } from './errors.js';

const PROJECT_RE = /^[a-z0-9][a-z0-9_-]{0,39}$/;
/** Host names fit (letters, digits, `.`, `-`, `_`), up to 63 characters like a DNS label. */
const NODE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const DUTY_RE = /^[a-z][a-z0-9_-]{0,39}$/;

export interface ClusterKeys {
  readonly project: string;
  /** `hornets:<project>:` */
  readonly prefix: string;
  nodeClaim(node: string): string;
  readonly nodes: string;
  readonly beats: string;
  readonly stopped: string;
  readonly seen: string;
  readonly clock: string;
  lease(duty: string): string;
  fence(duty: string): string;
  wakeChannel(node: string): string;
  controlStream(node: string): string;
}

export function checkNodeName(node: string): string {
  if (!NODE_RE.test(node)) throw new ClusterNameError('node', node, 'letters, digits, ".", "-" or "_" (at most 63), starting with a letter or digit');
  return node;
}

export function checkDutyName(duty: string): string {
  if (!DUTY_RE.test(duty)) throw new ClusterNameError('duty', duty, 'lower-case letters, digits, "-" or "_" (at most 40), starting with a letter');
  return duty;
}

export function clusterKeys(project: string): ClusterKeys {
  if (!PROJECT_RE.test(project)) throw new ClusterNameError('project', project, 'lower-case letters, digits, "-" or "_" (at most 40), starting with a letter or digit');
  const prefix = `hornets:${project}:`;
  const cluster = `${prefix}{cluster}:`;
  return {
    project,
    prefix,
    nodeClaim: (node) => `${cluster}node:${checkNodeName(node)}`,
    nodes: `${cluster}nodes`,
    beats: `${cluster}beats`,
    stopped: `${cluster}stopped`,
    seen: `${cluster}seen`,
    clock: `${cluster}clock`,
    lease: (duty) => `${cluster}lease:${checkDutyName(duty)}`,
    fence: (duty) => `${cluster}fence:${checkDutyName(duty)}`,
    wakeChannel: (node) => `${prefix}{node:${checkNodeName(node)}}:wake`,
    controlStream: (node) => `${prefix}{node:${checkNodeName(node)}}:control`,
  };
}
