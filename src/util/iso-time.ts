/**
 * An ISO 8601 UTC timestamp, as `Date#toISOString` gives it, built from the getUTC* fields: the first
 * `toISOString` of a process loads the local time zone (ICU reads /etc/localtime, ~1 ms), which a
 * hook process or a short command would pay on every run for a log line's time.
 */
export function isoTime(ms: number = Date.now()): string {
  const d = new Date(ms);
  const two = (n: number) => (n < 10 ? `0${n}` : String(n));
  const ms3 = d.getUTCMilliseconds();
  return `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}T${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}.${ms3 < 10 ? `00${ms3}` : ms3 < 100 ? `0${ms3}` : ms3}Z`;
}
