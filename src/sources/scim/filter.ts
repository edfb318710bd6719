/**
 * SCIM filters (RFC 7644 §3.4.2.2) as the SCIM source's lists take them: comparisons `eq ne co sw ew gt ge lt le`,
 * `pr`, `and`, `or`, `not (…)` and parentheses, over an attribute path (`userName`, `name.familyName`,
 * `emails.value`, a schema URN prefix allowed). Compiled to a predicate over a resource's SCIM representation;
 * attribute names are case-insensitive and string comparisons too (the attributes authentik filters on are not
 * caseExact). A filter that does not parse is a SCIM `invalidFilter` error.
 */

export class ScimFilterError extends Error {}

export type Resource = Record<string, unknown>;
type Pred = (r: Resource) => boolean;

const TOKEN = /\s*(\(|\)|\[|\]|"(?:[^"\\]|\\.)*"|[^\s()[\]"]+)/y;

function tokenize(text: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  let rest = text;
  while (rest.trim() !== '') {
    TOKEN.lastIndex = 0;
    const m = TOKEN.exec(rest);
    if (!m) throw new ScimFilterError('Invalid filter.');
    out.push(m[1]!);
    rest = rest.slice(m[0].length);
  }
  return out;
}

/** the attribute path's names: `urn:…:User:name.familyName` → ['name', 'familyName'] */
export function attrPath(path: string): string[] {
  let p = path;
  if (/^urn:/i.test(p)) {
    const i = p.lastIndexOf(':');
    p = p.slice(i + 1);
  }
  return p.split('.').filter(Boolean);
}

/** a key of `o` matching `name` case-insensitively */
export const keyOf = (o: Record<string, unknown>, name: string) => Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase());

/** the values at a path (multi-valued attributes flattened) */
export function valuesAt(r: unknown, names: string[]): unknown[] {
  if (!names.length) return Array.isArray(r) ? r : [r];
  if (Array.isArray(r)) return r.flatMap((x) => valuesAt(x, names));
  if (!r || typeof r !== 'object') return [];
  const k = keyOf(r as Record<string, unknown>, names[0]!);
  return k === undefined ? [] : valuesAt((r as Record<string, unknown>)[k], names.slice(1));
}

const norm = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v);

function compare(op: string, have: unknown, want: unknown): boolean {
  const a = norm(have);
  const b = norm(want);
  switch (op) {
    case 'eq':
      return a === b;
    case 'ne':
      return a !== b;
    case 'co':
      return typeof a === 'string' && typeof b === 'string' && a.includes(b);
    case 'sw':
      return typeof a === 'string' && typeof b === 'string' && a.startsWith(b);
    case 'ew':
      return typeof a === 'string' && typeof b === 'string' && a.endsWith(b);
    case 'gt':
      return (a as never) > (b as never);
    case 'ge':
      return (a as never) >= (b as never);
    case 'lt':
      return (a as never) < (b as never);
    case 'le':
      return (a as never) <= (b as never);
    default:
      throw new ScimFilterError('Invalid filter.');
  }
}

function literal(t: string): unknown {
  if (t.startsWith('"')) {
    try {
      return JSON.parse(t);
    } catch {
      throw new ScimFilterError('Invalid filter.');
    }
  }
  const l = t.toLowerCase();
  if (l === 'true') return true;
  if (l === 'false') return false;
  if (l === 'null') return null;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  throw new ScimFilterError('Invalid filter.');
}

const COMPARISONS = new Set(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']);

class Parser {
  private i = 0;
  constructor(private readonly t: string[]) {}

  parse(): Pred {
    const p = this.or();
    if (this.i !== this.t.length) throw new ScimFilterError('Invalid filter.');
    return p;
  }

  private peek = () => this.t[this.i]?.toLowerCase();
  private next = () => {
    const v = this.t[this.i++];
    if (v === undefined) throw new ScimFilterError('Invalid filter.');
    return v;
  };

  private or(): Pred {
    let left = this.and();
    while (this.peek() === 'or') {
      this.i++;
      const a = left;
      const b = this.and();
      left = (r) => a(r) || b(r);
    }
    return left;
  }

  private and(): Pred {
    let left = this.unary();
    while (this.peek() === 'and') {
      this.i++;
      const a = left;
      const b = this.unary();
      left = (r) => a(r) && b(r);
    }
    return left;
  }

  private unary(): Pred {
    if (this.peek() === 'not') {
      this.i++;
      const inner = this.unary();
      return (r) => !inner(r);
    }
    if (this.peek() === '(') {
      this.i++;
      const inner = this.or();
      if (this.next() !== ')') throw new ScimFilterError('Invalid filter.');
      return inner;
    }
    const path = this.next();
    if (!/^[A-Za-z0-9:._$-]+$/.test(path)) throw new ScimFilterError('Invalid filter.');
    // a value filter on a multi-valued attribute: emails[type eq "work"]
    if (this.peek() === '[') {
      this.i++;
      const inner = this.or();
      if (this.next() !== ']') throw new ScimFilterError('Invalid filter.');
      const names = attrPath(path);
      return (r) => valuesAt(r, names).some((v) => !!v && typeof v === 'object' && inner(v as Resource));
    }
    const op = this.next().toLowerCase();
    const names = attrPath(path);
    if (op === 'pr') return (r) => valuesAt(r, names).some((v) => v !== null && v !== undefined && v !== '');
    if (!COMPARISONS.has(op)) throw new ScimFilterError('Invalid filter.');
    const want = literal(this.next());
    return (r) => {
      const have = valuesAt(r, names);
      return op === 'ne' ? have.every((v) => compare('ne', v, want)) : have.some((v) => compare(op, v, want));
    };
  }
}

export function compileFilter(text: string): Pred {
  return new Parser(tokenize(text)).parse();
}
