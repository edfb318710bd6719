/** The OpenAPI 3.0 document of what Keystage implements, built from the same schemas that validate requests. */
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

export function mountSchema(router: ApiRouter) {
  let cache: { json: string; yaml: string } | undefined;
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
          cache = { json: JSON.stringify(doc), yaml: stringify(doc) };
        }
        const format = (req.query as Record<string, string>).format;
        const accept = String(req.headers.accept ?? '');
        if (format === 'json' || (format !== 'yaml' && /json/.test(accept)))
          return reply.type('application/vnd.oai.openapi+json').send(cache.json);
        return reply.type('application/vnd.oai.openapi').send(cache.yaml);
      },
    },
  });
}
