import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDisk, checkNode, MIN_FREE_BYTES } from '../../src/services/doctor.js';

describe('doctor checks', () => {
  it.each([
    ['20.0.0', true],
    ['22.3.1', true],
    ['18.19.0', false],
  ])('node %s ok=%s', (version, ok) => {
    const c = checkNode(version);
    expect(c.ok).toBe(ok);
    expect(c.fix === null).toBe(ok);
    if (!ok) expect(c.fix).toContain('Node.js 20');
  });

  it('disk: fails below the minimum, naming the directory', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hornets-disk-'));
    try {
      expect(checkDisk(dir).ok).toBe(true);
      const c = checkDisk(dir, Number.MAX_SAFE_INTEGER);
      expect(c).toMatchObject({ ok: false, name: 'disk' });
      expect(c.detail).toContain(dir);
      expect(checkDisk(path.join(dir, 'missing')).fix).toContain('hornets-tui init');
      expect(MIN_FREE_BYTES).toBe(100 * 1024 * 1024);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
