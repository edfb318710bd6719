/**
 * Validates response bodies against the component schemas of the official client's schema.yml (authentik
 * 2026.8.3), with ajv. OpenAPI 3.0's `nullable` is turned into JSON Schema's null type on load.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
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
let authentikDoc: OpenApiDoc | undefined;

export interface OpenApiDoc {
  components: { schemas: Record<string, any> };
}

/**
 * schema.yml as parsed (OpenAPI 3.0, unconverted). Parsing its 1.8 MB of YAML takes seconds of CPU, in every test
 * file that validates; so the parsed document is kept as JSON in the temp directory, under the YAML's SHA-256 (a
 * changed schema.yml gets a new file), and read back in milliseconds.
 */
export function authentikSchema(): OpenApiDoc {
  if (authentikDoc) return authentikDoc;
  const yml = fs.readFileSync(SCHEMA_PATH, 'utf8');
  const cache = path.join(
    os.tmpdir(),
    `keystage-test-authentik-schema-${createHash('sha256').update(yml).digest('hex').slice(0, 16)}.json`,
  );
  try {
    authentikDoc = JSON.parse(fs.readFileSync(cache, 'utf8')) as OpenApiDoc;
  } catch {
    authentikDoc = parse(yml) as OpenApiDoc;
    // written whole under another name, then renamed: a test file running in parallel never reads half of it
    const tmp = `${cache}.${randomBytes(6).toString('hex')}`;
    fs.writeFileSync(tmp, JSON.stringify(authentikDoc));
    fs.renameSync(tmp, cache);
  }
  return authentikDoc;
}

function ajvOver(doc: OpenApiDoc, id: string): Ajv {
  const a = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(a);
  // DRF renders a blank URLField (authentik's meta_launch_url, logout_uri) as "", under a schema that says `format: uri`
  const uri = a.formats.uri;
  if (typeof uri === 'function') a.addFormat('uri', (s: string) => s === '' || uri(s));
  else if (uri instanceof RegExp) a.addFormat('uri', (s: string) => s === '' || uri.test(s));
  // and a blank EmailField (a service account's User.email, blank=True) as "", under `format: email`
  const email = a.formats.email;
  if (typeof email === 'function') a.addFormat('email', (s: string) => s === '' || email(s));
  else if (email instanceof RegExp) a.addFormat('email', (s: string) => s === '' || email.test(s));
  a.addSchema({ $id: id, components: { schemas: toJsonSchema(doc.components.schemas) } });
  return a;
}

function load(): Ajv {
  return (ajv ??= ajvOver(authentikSchema(), 'authentik'));
}

function check(a: Ajv, id: string, name: string, body: unknown): void {
  const validate = a.getSchema(`${id}#/components/schemas/${name}`);
  if (!validate) throw new Error(`no component ${name} in ${id}'s schema`);
  if (!validate(body)) {
    const errs = (validate.errors ?? [])
      .slice(0, 8)
      .map((e: ErrorObject) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
    throw new Error(`response does not match ${id}'s ${name}:\n${errs.join('\n')}\n${JSON.stringify(body).slice(0, 800)}`);
  }
}

/** throws with ajv's messages when `body` does not match component `name` */
export function assertMatches(name: string, body: unknown): void {
  check(load(), 'authentik', name, body);
}

/** the same check against another OpenAPI document (e.g. Keystage's own /api/v3/schema/) */
export function validatorOver(doc: OpenApiDoc, id = 'served'): (name: string, body: unknown) => void {
  const a = ajvOver(doc, id);
  return (name, body) => check(a, id, name, body);
}

/** a JSON array whose items match `name` */
export function assertArrayOf(name: string, body: unknown): void {
  if (!Array.isArray(body)) throw new Error(`expected an array of ${name}`);
  for (const item of body) assertMatches(name, item);
}
