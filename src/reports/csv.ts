/**
 * CSV as RFC 4180 (and Python's `csv.writer`): fields with a comma, quote or line break quoted, quotes doubled, lines
 * ended by CRLF. Values as authentik writes them: nothing for null, `True`/`False`, objects and lists as JSON.
 *
 * Beyond authentik: a text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so a
 * spreadsheet opening the file shows it instead of running it as a formula (OWASP's CSV injection advice). Names
 * and attributes in an export are whatever people typed into enrollment forms.
 */
const FORMULA = /^[=+\-@\t\r]/;

export function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return typeof value === 'string' && FORMULA.test(text) ? `'${text}` : text;
}

const quoted = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

export const csvLine = (values: readonly unknown[]): string => `${values.map((v) => quoted(cell(v))).join(',')}\r\n`;
