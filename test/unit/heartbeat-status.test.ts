import { describe, expect, it } from 'vitest';
import { heartbeatStatus } from '../../src/domain/heartbeat-status.js';

describe('heartbeat status (the one word the seeds’ probes compare)', () => {
  it.each<[string, boolean, string]>([
    ['idle', true, 'healthy'],
    ['busy', true, 'healthy'],
    ['compacting', true, 'healthy'],
    ['starting', true, 'healthy'],
    ['needs-input', true, 'degraded'],
    ['limited', true, 'degraded'],
    ['stuck', true, 'degraded'],
    ['crashed', false, 'unhealthy'],
    ['backing-off', false, 'unhealthy'],
    ['failed', false, 'unhealthy'],
    ['stopped', false, 'stopped'],
    ['unknown', false, 'down'],
    ['idle', false, 'down'],
    ['paused', true, 'healthy'],
  ])('%s (process: %s) → %s', (state, alive, status) => expect(heartbeatStatus(state, alive)).toBe(status));
});
