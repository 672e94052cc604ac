/** The user's way out of a damaged database, in every message about one. */
export function recoveryHint(dbPath: string): string {
  return `export what is readable with \`hornets-tui queue export -o rescue.jsonl\`, stop the engine, move ${dbPath} away, then \`hornets-tui queue import --partial rescue.jsonl\` (see README, "A damaged database")`;
}
