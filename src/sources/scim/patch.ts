/**
 * SCIM PATCH (RFC 7644 §3.5.2) applied to a resource's stored representation: `add`, `replace` and `remove`
 * (case-insensitive, as Entra ID sends them), with no path (the value's attributes merged in), an attribute path
 * (`active`, `name.givenName`, a schema URN prefix allowed; an extension's attributes under its URN), or a value
 * filter (`emails[type eq "work"].value`, `members[value eq "…"]`). Entra ID's "True"/"False" strings for booleans are
 * read as booleans. An operation that cannot apply is a SCIM `invalidPath` or `invalidValue` error.
 */
import { compileFilter, keyOf, type Resource } from './filter.js';

export class ScimPatchError extends Error {
  constructor(
    readonly scimType: 'invalidPath' | 'invalidValue' | 'noTarget' | 'invalidSyntax',
    message: string,
  ) {
    super(message);
  }
}

interface Path {
  /** the extension schema URN the attribute is under, if any */
  urn?: string;
  attr: string;
  filter?: string;
  sub?: string;
}

const CORE_URNS = ['urn:ietf:params:scim:schemas:core:2.0:user', 'urn:ietf:params:scim:schemas:core:2.0:group'];

export function parsePath(path: string): Path {
  const m = /^(?:(urn:[^[\]]*):)?([A-Za-z0-9_$-]+)(?:\[(.+)\])?(?:\.([A-Za-z0-9_$-]+))?$/.exec(path.trim());
  if (!m) throw new ScimPatchError('invalidPath', `Invalid path: ${path}`);
  const [, urn, attr, filter, sub] = m as unknown as [string, string | undefined, string, string | undefined, string | undefined];
  const own = urn && !CORE_URNS.includes(urn.toLowerCase()) ? urn : undefined;
  return { ...(own ? { urn: own } : {}), attr, ...(filter ? { filter } : {}), ...(sub ? { sub } : {}) };
}

/** Entra ID's boolean strings */
const scimValue = (v: unknown): unknown => (v === 'True' || v === 'true' ? true : v === 'False' || v === 'false' ? false : v);

function container(doc: Resource, p: Path, create: boolean): Resource | undefined {
  if (!p.urn) return doc;
  const k = keyOf(doc, p.urn);
  if (k !== undefined && doc[k] && typeof doc[k] === 'object') return doc[k] as Resource;
  if (!create) return undefined;
  const c: Resource = {};
  doc[p.urn] = c;
  return c;
}

function setAttr(o: Resource, name: string, value: unknown) {
  const k = keyOf(o, name) ?? name;
  o[k] = value;
}

function applyOne(doc: Resource, op: string, path: string | undefined, value: unknown) {
  if (!path) {
    if (op === 'remove') throw new ScimPatchError('noTarget', 'A remove operation needs a path.');
    if (!value || typeof value !== 'object' || Array.isArray(value))
      throw new ScimPatchError('invalidValue', 'The value must be an object.');
    for (const [k, v] of Object.entries(value as Resource)) {
      // (a path given as the key: {"name.givenName": "…"} or an extension URN with its attributes)
      if (v && typeof v === 'object' && !Array.isArray(v) && /^urn:/i.test(k)) {
        const c = container(doc, { urn: k, attr: '' }, true)!;
        for (const [ek, ev] of Object.entries(v as Resource)) setAttr(c, ek, scimValue(ev));
      } else applyOne(doc, op, k, v);
    }
    return;
  }
  const p = parsePath(path);
  const c = container(doc, p, op !== 'remove');
  if (!c) return;
  const key = keyOf(c, p.attr) ?? p.attr;
  const current = c[key];
  if (p.filter) {
    const match = compileFilter(p.filter);
    const items = Array.isArray(current) ? (current as Resource[]) : [];
    if (op === 'remove' && !p.sub) {
      c[key] = items.filter((x) => !(x && typeof x === 'object' && match(x)));
      return;
    }
    const hits = items.filter((x) => x && typeof x === 'object' && match(x));
    if (!hits.length) {
      if (op === 'remove') return;
      // Entra ID adds `emails[type eq "work"].value` to a user without a work address: the element is made, with
      // the filter's attribute (a plain `attr eq "value"` filter only; any other matches nothing)
      const simple = /^\s*([A-Za-z0-9_$-]+)\s+eq\s+("(?:[^"\\]|\\.)*"|true|false)\s*$/i.exec(p.filter);
      if (!simple) throw new ScimPatchError('noTarget', `No value matches ${path}.`);
      const literal = simple[2]!;
      const made: Resource = { [simple[1]!]: JSON.parse(/^(true|false)$/i.test(literal) ? literal.toLowerCase() : literal) };
      if (p.sub) setAttr(made, p.sub, scimValue(value));
      else if (value && typeof value === 'object' && !Array.isArray(value)) Object.assign(made, value);
      c[key] = [...items, made];
      return;
    }
    for (const h of hits) {
      if (p.sub) {
        if (op === 'remove') delete h[keyOf(h, p.sub) ?? p.sub];
        else setAttr(h, p.sub, scimValue(value));
      } else if (value && typeof value === 'object' && !Array.isArray(value)) Object.assign(h, value);
    }
    return;
  }
  if (p.sub) {
    const inner = current && typeof current === 'object' && !Array.isArray(current) ? (current as Resource) : {};
    if (op === 'remove') delete inner[keyOf(inner, p.sub) ?? p.sub];
    else setAttr(inner, p.sub, scimValue(value));
    c[key] = inner;
    return;
  }
  if (op === 'remove') {
    // remove with a value on a multi-valued attribute: those values (Entra ID's member removal)
    if (Array.isArray(current) && Array.isArray(value)) {
      const gone = new Set((value as Resource[]).map((v) => JSON.stringify(v?.value ?? v)));
      c[key] = current.filter((x) => !gone.has(JSON.stringify((x as Resource)?.value ?? x)));
    } else delete c[key];
    return;
  }
  if (op === 'add' && Array.isArray(current)) {
    const more = Array.isArray(value) ? value : [value];
    const have = new Set(current.map((x) => JSON.stringify((x as Resource)?.value ?? x)));
    c[key] = [...current, ...more.filter((x) => !have.has(JSON.stringify((x as Resource)?.value ?? x)))];
    return;
  }
  c[key] = scimValue(value);
}

/** the resource after the operations (a copy); throws ScimPatchError */
export function applyPatch(doc: Resource, body: unknown): Resource {
  const ops = body && typeof body === 'object' ? (body as Resource)[keyOf(body as Resource, 'Operations') ?? 'Operations'] : undefined;
  if (!Array.isArray(ops)) throw new ScimPatchError('invalidSyntax', 'The request has no Operations.');
  const out = structuredClone(doc);
  for (const raw of ops) {
    if (!raw || typeof raw !== 'object') throw new ScimPatchError('invalidSyntax', 'Invalid operation.');
    const o = raw as Resource;
    const op = String(o[keyOf(o, 'op') ?? 'op'] ?? '').toLowerCase();
    if (!['add', 'replace', 'remove'].includes(op)) throw new ScimPatchError('invalidSyntax', `Invalid operation: ${op}`);
    const path = o[keyOf(o, 'path') ?? 'path'];
    applyOne(out, op, typeof path === 'string' && path !== '' ? path : undefined, o[keyOf(o, 'value') ?? 'value']);
  }
  return out;
}
