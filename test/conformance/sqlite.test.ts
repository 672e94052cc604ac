import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { openSqliteStore, type SqliteMessageStore } from '../../src/queue/sqlite/sqlite-store.js';
import type { StoreOptions } from '../../src/queue/store.js';
import { runStoreConformance } from './store-conformance.js';
import { runTaskStoreConformance } from './task-store-conformance.js';
import { runWorkerTaskStoreConformance } from './worker-task-store-conformance.js';

async function sqliteFactory(opts: StoreOptions): Promise<{ store: SqliteMessageStore; cleanup: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hornets-conformance-'));
  const store = await openSqliteStore(path.join(dir, 'hornets.db'), opts);
  let closed = false;
  return {
    store,
    cleanup: async () => {
      try {
        if (!closed) {
          closed = true;
          await store.close();
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

runStoreConformance('sqlite', sqliteFactory);
runTaskStoreConformance('sqlite', sqliteFactory);
runWorkerTaskStoreConformance('sqlite', sqliteFactory);
