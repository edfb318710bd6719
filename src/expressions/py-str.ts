/**
 * Python's `str()` and `repr()` of a JSON value, for the places authentik shows a value its Python code formatted:
 * a prompt's placeholders and choices, a SAML attribute's value, an event's summary (`f"{action}: {context}"`).
 * (A JSON number cannot tell 1 from 1.0: integral numbers print as Python ints.)
 */
export function pyStr(v: unknown): string {
  if (typeof v === 'string') return v;
  return pyRepr(v);
}

export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return `'${v.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`)
    .join(', ')}}`;
}
