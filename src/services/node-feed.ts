/**
 * The console's view of the node registry (issue 12): one connection for the console's life, one
 * registry read (and the leader lease) per refresh tick (SnapshotService.probe), never a connection per refresh.
 */
import { processNode } from '../config/nodes.js';
import type { ProjectContext } from './context.js';
import type { NodeSource } from './snapshot.js';
import type { AttachNode } from './remote-attach.js';

export interface NodeFeed extends NodeSource {
  /** The last read, for commands that need a node's record (attach) without another read. */
  last(): readonly AttachNode[];
  close(): Promise<void>;
}

/** A feed for a team on Redis; null on SQLite (one host, no nodes). */
export async function openNodeFeed(ctx: ProjectContext): Promise<NodeFeed | null> {
  const s = ctx.selection;
  if (s.kind !== 'redis') return null;
  const { openNodeLink } = await import('../cluster/node-link.js');
  const link = await openNodeLink({ url: s.url, cluster: s.cluster, prefix: s.prefix, connectTimeoutMs: s.connectTimeoutMs, logger: ctx.log });
  let last: AttachNode[] = [];
  return {
    here: processNode(),
    async read() {
      // The leader lease is one GET beside the registry read, in the same round trip's time.
      const [nodes, leader] = await Promise.all([link.registry.list(), link.leader()]);
      last = nodes;
      return { nodes, leader: leader?.node ?? null };
    },
    last: () => last,
    close: () => link.close(),
  };
}
