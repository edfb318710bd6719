/** The OpenAPI 3.0 document of what Keystage implements, built from the same schemas that validate requests. */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { ApiRouter } from './routes.js';
import { VERSION } from '../version.js';

/** drops keywords only meaningful to Keystage's own validator */
function clean(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(clean);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k.startsWith('x-')) continue;
    out[k] = clean(v);
  }
  return out;
}

const jsonBody = (ref: string | Record<string, unknown>, type = 'application/json') => ({
  content: { [type]: { schema: typeof ref === 'string' ? { $ref: `#/components/schemas/${ref}` } : clean(ref) } },
});

export function buildOpenApi(router: ApiRouter): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of router.operations) {
    const p = (paths[`${op.path}/`] ??= {});
    const responses: Record<string, unknown> = {
      '400': jsonBody('ValidationError'),
      '403': jsonBody('GenericError'),
    };
    const status = String(op.status ?? 200);
    responses[status] = op.response ? { description: '', ...jsonBody(op.response) } : { description: 'No response body' };
    (responses['400'] as Record<string, unknown>).description = '';
    (responses['403'] as Record<string, unknown>).description = '';
    p[op.method] = {
      operationId: op.operationId,
      tags: [op.tag],
      parameters: [
        ...op.pathParams.map((pp) => ({ in: 'path', name: pp.name, required: true, schema: pp.schema })),
        ...(op.query ?? []).map((q) => ({
          in: 'query',
          name: q.name,
          schema: q.schema,
          ...(q.explode ? { explode: true, style: 'form' } : {}),
          ...(q.required ? { required: true } : {}),
        })),
      ],
      ...(op.body ? { requestBody: { required: !!op.bodyRequired, ...jsonBody(op.body, op.bodyType) } } : {}),
      responses,
      security: [{ authentik: [] }],
    };
  }
  const schemas: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(router.components).sort(([a], [b]) => a.localeCompare(b))) schemas[name] = clean(s);
  return {
    openapi: '3.0.3',
    info: { title: 'Keystage', version: VERSION, description: "Keystage speaks authentik's API v3." },
    servers: [{ url: '/api/v3' }],
    paths,
    components: { schemas, securitySchemes: { authentik: { type: 'http', scheme: 'bearer' } } },
  };
}

/** one served form of the document: its text, gzipped once, and its entity tag */
interface Served {
  text: string;
  gzip: Buffer;
  etag: string;
}
const served = (text: string): Served => ({
  text,
  gzip: gzipSync(text),
  etag: `"${createHash('sha256').update(text).digest('base64url').slice(0, 22)}"`,
});

/**
 * /schema/: the document as YAML or JSON, built once (about 1 MB of JSON, read by the admin interface on each load):
 * gzipped when the client takes it, and with an entity tag, so a browser that has it gets a 304
 */
export function mountSchema(router: ApiRouter) {
  let cache: { json: Served; yaml: Served } | undefined;
  router.route('/schema', {
    get: {
      doc: {
        operationId: 'schema_retrieve',
        tag: 'schema',
        query: [
          { name: 'format', schema: { type: 'string', enum: ['json', 'yaml'] } },
          { name: 'lang', schema: { type: 'string' } },
        ],
        response: { type: 'object', additionalProperties: {} },
      },
      handler: async (req, reply) => {
        if (!cache) {
          const doc = buildOpenApi(router);
          const { stringify } = await import('yaml');
          cache = { json: served(JSON.stringify(doc)), yaml: served(stringify(doc)) };
        }
        const format = (req.query as Record<string, string>).format;
        const accept = String(req.headers.accept ?? '');
        const json = format === 'json' || (format !== 'yaml' && /json/.test(accept));
        const doc = json ? cache.json : cache.yaml;
        reply
          .type(json ? 'application/vnd.oai.openapi+json' : 'application/vnd.oai.openapi')
          .header('etag', doc.etag)
          .header('cache-control', 'no-cache')
          .header('vary', 'accept, accept-encoding');
        if (
          String(req.headers['if-none-match'] ?? '')
            .split(/,\s*/)
            .includes(doc.etag)
        )
          return reply.code(304).send();
        if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) return reply.header('content-encoding', 'gzip').send(doc.gzip);
        return reply.send(doc.text);
      },
    },
  });
}
