/** The shape of one `doctor` check and its two constructors, shared by the check modules. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** The command (or action) that fixes a failed check; null when ok. */
  fix: string | null;
}

export const pass = (name: string, detail: string): Check => ({ name, ok: true, detail, fix: null });
export const fail = (name: string, detail: string, fix: string): Check => ({ name, ok: false, detail, fix });
