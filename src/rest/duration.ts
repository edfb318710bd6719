/** authentik's timedelta strings: `hours=3;minutes=1` (keys case-insensitive, floats, unknown keys ignored). */
const UNITS_MS: Record<string, number> = {
  microseconds: 0.001,
  milliseconds: 1,
  seconds: 1000,
  minutes: 60_000,
  hours: 3_600_000,
  days: 86_400_000,
  weeks: 604_800_000,
};

/** Milliseconds, or undefined when the string is not a valid duration. */
export function parseDuration(value: string): number | undefined {
  let total = 0;
  let known = 0;
  for (const part of value.split(';')) {
    // an empty segment (trailing ";" or an empty string) is an error, as in authentik
    const eq = part.indexOf('=');
    if (eq < 0 || part.indexOf('=', eq + 1) >= 0) return undefined;
    const key = part.slice(0, eq).trim().toLowerCase();
    const num = Number(part.slice(eq + 1).trim());
    if (part.slice(eq + 1).trim() === '' || !Number.isFinite(num)) return undefined;
    const unit = UNITS_MS[key];
    if (unit === undefined) continue;
    total += num * unit;
    known++;
  }
  return known > 0 ? total : undefined;
}

export const durationError = (value: string) => `${value} is not in the correct format of 'hours=3;minutes=1'.`;
