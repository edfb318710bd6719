/**
 * Validates response bodies against the component schemas of the official client's schema.yml (authentik
 * 2026.8.3), with ajv. OpenAPI 3.0's `nullable` is turned into JSON Schema's null type on load.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { parse } from 'yaml';
import { Ajv, type ErrorObject } from 'ajv';
import formats from 'ajv-formats';

// ajv-formats is CommonJS: its plugin is the module itself or its `default`
const addFormats = ((formats as unknown as { default?: unknown }).default ?? formats) as (a: Ajv) => void;

const require = createRequire(import.meta.url);
const SCHEMA_PATH = require.resolve('@goauthentik/api/schema.yml');

function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!node || typeof node !== 'object') return node;
  const src = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(src)) {
    if (k === 'nullable' || k === 'discriminator' || k === 'example' || k === 'xml') continue;
    out[k] = toJsonSchema(v);
  }
  if (src.nullable === true) {
    if (typeof out.type === 'string') {
      out.type = [out.type, 'null'];
      if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
      return out;
    }
    return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

let ajv: Ajv | undefined;

function load(): Ajv {
  if (ajv) return ajv;
  const doc = parse(fs.readFileSync(SCHEMA_PATH, 'utf8')) as { components: { schemas: Record<string, unknown> } };
  const a = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(a);
  a.addSchema({ $id: 'authentik', components: { schemas: toJsonSchema(doc.components.schemas) } });
  ajv = a;
  return a;
}

/** throws with ajv's messages when `body` does not match component `name` */
export function assertMatches(name: string, body: unknown): void {
  const validate = load().getSchema(`authentik#/components/schemas/${name}`);
  if (!validate) throw new Error(`no component ${name} in schema.yml`);
  if (!validate(body)) {
    const errs = (validate.errors ?? []).slice(0, 8).map((e: ErrorObject) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
    throw new Error(`response does not match ${name}:\n${errs.join('\n')}\n${JSON.stringify(body).slice(0, 800)}`);
  }
}

/** a JSON array whose items match `name` */
export function assertArrayOf(name: string, body: unknown): void {
  if (!Array.isArray(body)) throw new Error(`expected an array of ${name}`);
  for (const item of body) assertMatches(name, item);
}
