/** Typed errors of the cluster coordination primitives (node registry, leader lease, bus). */
import { ExitCode, HornetsError } from '../errors.js';

/** A project, node or duty name that cannot be part of a Redis key safely. */
export class ClusterNameError extends HornetsError {
  readonly exitCode = ExitCode.usage;
  constructor(
    readonly kind: 'project' | 'node' | 'duty',
    readonly value: string,
    rule: string,
  ) {
    super(`invalid ${kind} name ${JSON.stringify(value)}: ${rule}`);
  }
}

/** What the registry knows of the live node that holds a name. */
export interface NodeHolder {
  host: string;
  pid: number;
  /** When the holder registered (ms since the epoch, the holder's clock). */
  since: number;
}

/** Another live node already holds this name: the second one is refused and nothing changed. */
export class DuplicateNodeError extends HornetsError {
  readonly exitCode = ExitCode.failure;
  constructor(
    readonly node: string,
    readonly holder: NodeHolder | null,
    /** When the holder's claim lapses unless it heartbeats again (ms from the refusal). */
    readonly retryAfterMs: number,
  ) {
    const who = holder ? `host ${holder.host}, pid ${holder.pid}, since ${new Date(holder.since).toISOString()}` : 'an unknown holder';
    super(`node name "${node}" is already taken by a live node (${who}); stop it or choose another --node name`);
  }
}

/** A call that needs a registration (heartbeat, unregister) made when this instance holds none. */
export class NodeNotRegisteredError extends HornetsError {
  readonly exitCode = ExitCode.failure;
  constructor(readonly node: string | null) {
    super(node ? `node "${node}" is no longer registered by this process (its claim was lost)` : 'no node is registered by this process');
  }
}
