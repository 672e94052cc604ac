/** Taking in the queue of another hornets database file, such as one moved aside by file-guard.ts. */
import type { ImportResult, MessageStore } from '../store.js';
import { openSqliteStore } from './sqlite-store.js';

/** Imports the pending messages of another hornets database file (one moved aside) into `into`. */
export async function importPendingFrom(file: string, into: MessageStore): Promise<ImportResult> {
  const other = await openSqliteStore(file, { optimizeOnClose: false });
  try {
    const pending = await other.exportPending();
    return await into.importMessages(
      pending.map((message, i) => ({ line: i + 1, message })),
      { partial: true },
    );
  } finally {
    await other.close();
  }
}
