// Window durations such as "15m", "24h" or "7d": parsing and the allowed range (1m..90d).

const unitMs = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export const minWindowMs = unitMs.m;
export const maxWindowMs = 90 * unitMs.d;

export const windowPattern = /^([1-9][0-9]{0,5})([mhd])$/;

/** The window in milliseconds, or an error message naming the allowed form. */
export function parseWindow(text: string): { ok: true; ms: number } | { ok: false; message: string } {
  const m = windowPattern.exec(text);
  if (!m) return { ok: false, message: `'${text}' is not a window: use a whole number and a unit m, h or d (e.g. "15m", "24h", "7d")` };
  const ms = Number(m[1]) * unitMs[m[2] as keyof typeof unitMs];
  if (ms < minWindowMs || ms > maxWindowMs) return { ok: false, message: `window '${text}' is outside the allowed range 1m..90d` };
  return { ok: true, ms };
}

/** For code paths where the window was validated already. */
export function windowMs(text: string): number {
  const r = parseWindow(text);
  if (!r.ok) throw new Error(r.message);
  return r.ms;
}
