/** Redis URL checks without zod: the lean CLI (cli-hot) resolves the store too. */

/** What is wrong with a Redis URL, or null. Never repeats the password. */
export function redisUrlProblem(v: string): string | null {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return 'not a URL: expected redis://[:password@]host[:port][/db] or rediss://…';
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return `unsupported scheme "${u.protocol}": expected redis:// or rediss://`;
  if (!u.hostname) return 'the URL names no host';
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,2}$/.test(db)) return `"/${db}" is not a database number (0–15)`;
  return null;
}

/** What is wrong with the URL of a Redis Cluster node (no database: a cluster has only 0), or null. */
export function redisClusterNodeProblem(v: string): string | null {
  const problem = redisUrlProblem(v);
  if (problem) return problem;
  const db = new URL(v).pathname.replace(/^\//, '');
  return db !== '' && db !== '0' ? `"/${db}": a Redis Cluster has only database 0` : null;
}
