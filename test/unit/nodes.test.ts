/** Which agents a node runs (config/nodes.ts) and the node's name: the one rule every part uses. */
import { describe, expect, it } from 'vitest';
import { hornetsConfigSchema } from '../../src/config/schema.js';
import { checkAgentNodes, localAgents, nodeFromHostname, processNode, remoteAgentNode } from '../../src/config/nodes.js';
import type { Project } from '../../src/config/load.js';
import type { StoreSelection } from '../../src/config/store-selection.js';
import { ConfigError, UsageError } from '../../src/errors.js';

const redis: StoreSelection = { kind: 'redis', url: 'redis://127.0.0.1:6379', prefix: 't', connectTimeoutMs: 1000, source: 'REDIS_URL' };
const sqlite: StoreSelection = { kind: 'sqlite' };

function config(agents: { name: string; node?: string }[], defaultsNode?: string) {
  return hornetsConfigSchema.parse({ project: 't', defaults: defaultsNode ? { node: defaultsNode } : {}, agents: agents.map((a) => ({ profile: 'demo', ...a })) });
}

describe('nodes', () => {
  it('host names become node names: lower-case, other characters "-", a letter first', () => {
    expect(nodeFromHostname('Build-1.Example.COM')).toBe('build-1-example-com');
    expect(nodeFromHostname('3f2a9c0d1e')).toBe('n3f2a9c0d1e');
    expect(processNode({ HORNETS_NODE: 'beta' })).toBe('beta');
    expect(() => processNode({ HORNETS_NODE: 'Bad Name' })).toThrow(UsageError);
  });

  it('the schema takes a node per agent and a default one, with the agent-name rule', () => {
    expect(config([{ name: 'marie', node: 'alpha' }], 'beta').agents[0]!.node).toBe('alpha');
    expect(() => config([{ name: 'marie', node: 'Alpha!' }])).toThrow(/invalid node name/);
  });

  it('on Redis an agent without a node (and no default) is an error naming it; on SQLite nodes are ignored', () => {
    const c = config([{ name: 'marie', node: 'alpha' }, { name: 'bob' }]);
    expect(() => checkAgentNodes('/p/hornets.json', c, sqlite)).not.toThrow();
    expect(() => checkAgentNodes('/p/hornets.json', c, redis)).toThrow(ConfigError);
    try {
      checkAgentNodes('/p/hornets.json', c, redis);
    } catch (err) {
      expect((err as ConfigError).issues).toEqual([{ path: 'agents[1].node', message: expect.stringContaining('agent "bob" has no node') as string }]);
    }
    expect(() => checkAgentNodes('/p/hornets.json', config([{ name: 'bob' }], 'alpha'), redis)).not.toThrow();
  });

  it('a node runs its own agents (defaults.node for the rest) on Redis, every agent on SQLite', () => {
    const c = config([{ name: 'marie', node: 'alpha' }, { name: 'bob' }, { name: 'anga', node: 'beta' }], 'alpha');
    expect(localAgents(c, redis, 'alpha').map((a) => a.name)).toEqual(['marie', 'bob']);
    expect(localAgents(c, redis, 'beta').map((a) => a.name)).toEqual(['anga']);
    expect(localAgents(c, redis, 'gamma')).toEqual([]);
    expect(localAgents(c, sqlite, 'beta').map((a) => a.name)).toEqual(['marie', 'bob', 'anga']);
    const project = { config: c } as Project;
    expect(remoteAgentNode(project, redis, 'alpha', 'anga')).toBe('beta');
    expect(remoteAgentNode(project, redis, 'alpha', 'marie')).toBeNull();
    expect(remoteAgentNode(project, sqlite, 'alpha', 'anga')).toBeNull();
  });
});
