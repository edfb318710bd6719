/**
 * What the admin interface knows of the API: read from the OpenAPI document the server serves (/api/v3/schema/), the
 * same schemas that validate requests, so every resource the server has can be listed, created, edited and deleted
 * without a view written for it. A resource is a list path (`/flows/instances/`); its objects are at the path below it
 * with one parameter (`/flows/instances/{slug}/`); its fields are the request schema's properties.
 */

import type { Relation } from './relations.js';

export interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  nullable?: boolean;
  readOnly?: boolean;
  writeOnly?: boolean;
  default?: unknown;
  description?: string;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}

interface Operation {
  parameters?: { in: string; name: string; schema?: Schema }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
}

export interface OpenApi {
  paths: Record<string, Partial<Record<'get' | 'post' | 'put' | 'patch' | 'delete', Operation>>>;
  components: { schemas: Record<string, Schema> };
}

export interface Resource {
  list: string;
  /** the object path's template (`/flows/instances/{slug}/`) and its parameter */
  detail?: string;
  param?: string;
  /** the objects' schema (list and detail) and the one writes take */
  item?: string;
  request?: string;
  create: boolean;
  update: boolean;
  remove: boolean;
  /** query parameters the list takes (`search`, `ordering`, filters) */
  query: string[];
}

const REF = '#/components/schemas/';
const refName = (s: Schema | undefined) => (s?.$ref?.startsWith(REF) ? s.$ref.slice(REF.length) : undefined);
const jsonSchema = (op: Operation | undefined, status?: string): Schema | undefined => {
  if (!op) return undefined;
  if (status === undefined) return Object.values(op.requestBody?.content ?? {})[0]?.schema;
  return Object.values(op.responses[status]?.content ?? {})[0]?.schema;
};

/** a component schema with `$ref` and `allOf` resolved (one level of each, as the server writes them) */
export function resolve(doc: OpenApi, s: Schema | undefined): Schema {
  if (!s) return {};
  const named = refName(s);
  let out: Schema = named ? { ...(doc.components.schemas[named] ?? {}), ...s, $ref: undefined } : s;
  if (out.allOf?.length) {
    const parts = out.allOf.map((p) => resolve(doc, p));
    const { allOf: _drop, ...rest } = out;
    out = Object.assign({}, ...parts, rest);
  }
  return out;
}

/** the object path below a list path (`/x/` → `/x/{id}/`) and its parameter */
function detailOf(doc: OpenApi, list: string): { path: string; param: string } | undefined {
  for (const path of Object.keys(doc.paths)) {
    if (!path.startsWith(list)) continue;
    const m = /^\{([^}/]+)\}\/$/.exec(path.slice(list.length));
    if (m) return { path, param: m[1] };
  }
  return undefined;
}

export function resourceAt(doc: OpenApi, list: string): Resource {
  const ops = doc.paths[list] ?? {};
  const d = detailOf(doc, list);
  const dops = d ? (doc.paths[d.path] ?? {}) : {};
  const listed = resolve(doc, jsonSchema(ops.get, '200'));
  const item = refName(jsonSchema(dops.get, '200')) ?? refName(listed.properties?.results?.items) ?? refName(jsonSchema(ops.get, '200'));
  const request = refName(jsonSchema(ops.post)) ?? refName(jsonSchema(dops.put)) ?? refName(jsonSchema(ops.put));
  return {
    list,
    detail: d?.path,
    param: d?.param,
    item,
    request,
    create: !!ops.post,
    update: !!(dops.patch || dops.put),
    remove: !!dops.delete,
    query: (ops.get?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
  };
}

/** the list path serving a model (authentik's `meta_model_name` or a type's `model_name`, e.g. `identificationstage`) */
export function listForModel(doc: OpenApi, model: string): string | undefined {
  const name = model.includes('.') ? model.slice(model.indexOf('.') + 1) : model;
  let best: string | undefined;
  for (const [path, ops] of Object.entries(doc.paths)) {
    if (!/\/\{[^}/]+\}\/$/.test(path) || path.includes('/all/')) continue;
    const schema = refName(jsonSchema(ops.get, '200'));
    if (schema?.toLowerCase() !== name.toLowerCase()) continue;
    const list = path.replace(/\{[^}/]+\}\/$/, '');
    if (!doc.paths[list]) continue;
    if (!best || list.length < best.length) best = list;
  }
  return best;
}

/** the value naming an object in its path: the parameter's own field when the object has one, else its `pk` */
export const idOf = (r: Resource, obj: Record<string, unknown>) => String(obj[r.param ?? 'pk'] ?? obj.pk ?? '');

export const objectPath = (r: Resource, id: string) =>
  r.detail && r.param ? r.detail.replace(`{${r.param}}`, encodeURIComponent(id)) : `${r.list}${encodeURIComponent(id)}/`;

export type FieldKind = 'text' | 'textarea' | 'password' | 'number' | 'boolean' | 'select' | 'multiselect' | 'datetime' | 'json' | 'file';

export interface Field {
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  nullable: boolean;
  /** never shown again once stored (a secret): an empty input on edit leaves it unchanged */
  writeOnly: boolean;
  options?: string[];
  default?: unknown;
  description?: string;
  /** the schema's type, and its items' for an array */
  type?: string;
  itemType?: string;
  /** the field names other objects (relations.ts), chosen from their list */
  relation?: Relation;
}

/** long texts: expressions, templates, certificates, CSS */
const LONG = /expression|template|certificate_data|key_data|css|description|message|body|text|keys|metadata|sign_|_pem/;

export const labelOf = (name: string) => {
  const words = name.replace(/_/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
};

function kindOf(name: string, s: Schema): Pick<Field, 'kind' | 'options'> {
  if (s.enum?.length && (s.type === 'string' || s.type === undefined))
    return { kind: 'select', options: s.enum.filter((v): v is string => typeof v === 'string') };
  if (s.type === 'array' && s.items) {
    const items = s.items;
    if (items.enum?.length) return { kind: 'multiselect', options: items.enum.filter((v): v is string => typeof v === 'string') };
    return { kind: 'json' };
  }
  if (s.type === 'boolean') return { kind: 'boolean' };
  if (s.type === 'integer' || s.type === 'number') return { kind: 'number' };
  if (s.type === 'string') {
    if (s.format === 'date-time') return { kind: 'datetime' };
    if (s.format === 'binary') return { kind: 'file' };
    if (s.writeOnly || /password|secret/.test(name)) return { kind: 'password' };
    if (LONG.test(name) || (s.maxLength ?? 0) > 1000) return { kind: 'textarea' };
    return { kind: 'text' };
  }
  return { kind: 'json' };
}

/** the form's fields: the request schema's properties, in its order */
export function fieldsOf(doc: OpenApi, request: string | undefined): Field[] {
  if (!request) return [];
  const schema = resolve(doc, { $ref: `${REF}${request}` });
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {})
    .filter(([, s]) => !s.readOnly)
    .map(([name, raw]) => {
      const s = resolve(doc, raw);
      return {
        name,
        label: labelOf(name),
        ...kindOf(name, s),
        required: required.has(name),
        nullable: !!(s.nullable || raw.nullable),
        writeOnly: !!(s.writeOnly || raw.writeOnly),
        default: s.default ?? raw.default,
        description: s.description ?? raw.description,
        type: s.type,
        itemType: s.items ? resolve(doc, s.items).type : undefined,
      };
    });
}

/** a list's columns: the object's naming fields first, then its other short ones, five at most */
const PREFERRED = [
  'name',
  'username',
  'title',
  'slug',
  'identifier',
  'verbose_name',
  'designation',
  'email',
  'action',
  'app',
  'client_ip',
  'intent',
  'domain',
  'mode',
  'order',
  'stage',
  'policy',
  'group',
  'user',
  'is_active',
  'enabled',
  'created',
  'expires',
  'score',
];
export function columnsOf(doc: OpenApi, item: string | undefined): string[] {
  if (!item) return ['pk'];
  const props = resolve(doc, { $ref: `${REF}${item}` }).properties ?? {};
  const scalar = (n: string) => {
    const s = resolve(doc, props[n]);
    return ['string', 'integer', 'number', 'boolean'].includes(s.type ?? '') && !s.writeOnly;
  };
  const cols = PREFERRED.filter((n) => n in props && scalar(n));
  for (const n of Object.keys(props)) {
    if (cols.length >= 5) break;
    if (!cols.includes(n) && scalar(n) && !/_url$|^pk$|_uuid$|_ptr_id$|^component$/.test(n)) cols.push(n);
  }
  return cols.slice(0, 5);
}

/** an input's text as the field's value; `undefined`: leave the field out; throws a message for unreadable input */
export function fieldValue(f: Field, input: string | boolean | string[]): unknown {
  if (f.relation) {
    const key = (v: string) => (f.relation?.numeric ? Number(v) : v);
    if (f.relation.many) return (input as string[]).map(key);
    if (input === '') return f.nullable ? null : undefined;
    return key(String(input));
  }
  if (f.kind === 'boolean') return !!input;
  if (f.kind === 'multiselect') return input;
  if (f.kind === 'file') return undefined;
  const text = String(input);
  if (text === '') {
    if (f.writeOnly) return undefined;
    if (f.nullable) return null;
    if (f.kind === 'number' || f.kind === 'json' || f.kind === 'select' || f.kind === 'datetime') return undefined;
    return '';
  }
  if (f.kind === 'number') {
    const n = Number(text);
    if (!Number.isFinite(n)) throw new Error('Enter a number.');
    return n;
  }
  if (f.kind === 'json') {
    try {
      return JSON.parse(text);
    } catch {
      throw new Error('Enter valid JSON.');
    }
  }
  if (f.kind === 'datetime') return new Date(text).toISOString();
  return text;
}

/** a stored value as the input shows it */
export function inputOf(f: Field, value: unknown): string | boolean | string[] {
  if (f.relation?.many) return Array.isArray(value) ? value.map(String) : [];
  if (f.relation) return value === null || value === undefined ? '' : String(value);
  if (f.kind === 'boolean') return !!value;
  if (f.kind === 'multiselect') return Array.isArray(value) ? value.map(String) : [];
  if (value === null || value === undefined) return '';
  if (f.kind === 'json') return JSON.stringify(value, null, 2);
  if (f.kind === 'datetime') {
    const d = new Date(String(value));
    if (Number.isNaN(d.getTime())) return '';
    const local = new Date(d.getTime() - d.getTimezoneOffset() * 60_000);
    return local.toISOString().slice(0, 16);
  }
  return String(value);
}

/** an object type's name from its schema's (`OAuth2Provider` → "OAuth2 Provider", `FlowStageBinding` → "Flow Stage Binding") */
export const typeNameOf = (r: Resource) => (r.item ?? '').replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2');

/** a row's cell for column `c`: the object named by a key (`stage` beside `stage_obj`) by its name */
export function cellIn(row: Record<string, unknown>, c: string): string {
  const named = row[`${c}_obj`];
  if (named && typeof named === 'object') {
    const o = named as Record<string, unknown>;
    const text = [o.name, o.username, o.slug, o.verbose_name].find((v) => typeof v === 'string' && v);
    if (text) return String(text);
  }
  return cellOf(row[c]);
}

/** a cell's text */
export function cellOf(value: unknown): string {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'boolean') return value ? 'Yes' : 'No';
  if (typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value)) return new Date(value).toLocaleString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** an operation under an object (`/core/users/{id}/set_password/`) or beside a list (`/crypto/certificatekeypairs/generate/`) */
export interface Action {
  name: string;
  label: string;
  /** the path's template, with the object's parameter */
  path: string;
  method: 'get' | 'post';
  /** the body's schema (a form), if it takes one */
  request?: string;
  /** the body is a file upload (multipart/form-data), not JSON */
  multipart: boolean;
  /** query parameters the operation takes */
  query: string[];
}

/**
 * the operations one path segment below `base` (an object's path template, or a list path: then only the writes,
 * since a list's other reads are lists of their own), with a JSON body or a file upload
 */
export function actionsOf(doc: OpenApi, base: string, objectLevel: boolean): Action[] {
  const out: Action[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    const m = /^([a-z_]+)\/$/.exec(path.startsWith(base) ? path.slice(base.length) : '');
    if (!m) continue;
    for (const method of ['get', 'post'] as const) {
      const op = ops[method];
      if (!op || (!objectLevel && method === 'get')) continue;
      const content = op.requestBody?.content;
      const multipart = !!content?.['multipart/form-data'] && !content['application/json'];
      if (content && !content['application/json'] && !multipart) continue;
      out.push({
        name: m[1],
        label: labelOf(m[1]),
        path,
        method,
        request: refName((content?.['application/json'] ?? content?.['multipart/form-data'])?.schema),
        multipart,
        query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
      });
    }
  }
  return out.sort((a, b) => a.label.localeCompare(b.label));
}

/** an action's query parameters as fields (text, or a relation's choices by name) */
export const queryFields = (a: Action): Field[] =>
  a.query.map((name) => ({ name, label: labelOf(name), kind: 'text', required: false, nullable: false, writeOnly: false, type: 'string' }));
