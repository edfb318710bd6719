/**
 * Route registration for /api/v3: every path answers 405 for the methods it lacks, and every operation is recorded
 * for the OpenAPI document together with the component schemas it uses.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { MethodNotAllowed } from './errors.js';
import type { WritableModel } from './resource.js';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export interface QueryParam {
  name: string;
  schema: Record<string, unknown>;
  explode?: boolean;
  required?: boolean;
}

export interface OpDoc {
  operationId: string;
  tag: string;
  query?: QueryParam[];
  /** component name of the request body */
  body?: string;
  bodyRequired?: boolean;
  /** the request body's media type (default application/json) */
  bodyType?: 'multipart/form-data';
  /** component name (or inline schema) of the success response; undefined = no content */
  response?: string | Record<string, unknown>;
  status?: number;
}

export interface RouteDef {
  handler: Handler;
  doc: OpDoc;
}

export interface Operation extends OpDoc {
  method: Method;
  path: string;
  pathParams: { name: string; schema: Record<string, unknown> }[];
}

const METHODS: Method[] = ['get', 'post', 'put', 'patch', 'delete'];

/** a query key's value as Django's `QueryDict` gives it: the last, when the key is repeated */
export const lastValue = <T>(v: T | T[] | undefined): T | undefined => (Array.isArray(v) ? v.at(-1) : v);

/**
 * `handler` seeing each single-valued query parameter it declares (not an array, not `explode`) as one string when
 * the key is repeated: the last, as Django's `QueryDict` gives it (`?ordering=a&ordering=b` is `b`, never an array
 * that a handler would take for text).
 */
function singleValued(handler: Handler, query: QueryParam[] | undefined): Handler {
  const names = (query ?? []).filter((q) => q.schema.type !== 'array' && !q.explode).map((q) => q.name);
  if (!names.length) return handler;
  return (req, reply) => {
    const q = req.query as Record<string, unknown> | undefined;
    if (q) for (const n of names) if (Array.isArray(q[n])) q[n] = lastValue(q[n]);
    return handler(req, reply);
  };
}

/** what a route tells the app-wide hooks about itself */
export interface RouteFlags {
  /**
   * the handler reads the session itself (with PostgreSQL, the configuration epoch with it), applies its own CSRF
   * rule and never writes configuration (the flow executor)
   */
  ownSession?: boolean;
  /** the handler writes no configuration: a POST does not drop the admin cache (the OAuth2 token endpoints) */
  noConfigWrites?: boolean;
}

export const routeFlags = (req: FastifyRequest): RouteFlags => (req.routeOptions.config ?? {}) as RouteFlags;

export interface AuditedModel {
  app: string;
  model_name: string;
  pk: string;
  name: string;
}

export class ApiRouter {
  readonly operations: Operation[] = [];
  /** records an audit event for an API request (every admin write, password set, secret view, …) */
  audit?: (
    req: FastifyRequest,
    action: 'model_created' | 'model_updated' | 'model_deleted' | 'password_set' | 'secret_view' | 'secret_rotate',
    context: Record<string, unknown>,
  ) => Promise<void>;
  readonly components: Record<string, TSchema | Record<string, unknown>> = {};
  /** the models blueprints may write, by label (resource.ts `WritableModel`) */
  readonly models = new Map<string, WritableModel>();

  constructor(
    readonly app: FastifyInstance,
    readonly prefix = '/api/v3',
  ) {}

  /** this router (its operations, components and audit) registering routes in an encapsulated plugin's `scope` */
  within(scope: FastifyInstance): ApiRouter {
    const r = Object.create(this) as ApiRouter;
    Object.defineProperty(r, 'app', { value: scope });
    return r;
  }

  component(name: string, schema: TSchema | Record<string, unknown>) {
    this.components[name] = schema;
  }

  /** `path` uses OpenAPI's `{param}` syntax, relative to /api/v3. */
  route(
    path: string,
    defs: Partial<Record<Method, RouteDef>>,
    pathParams: { name: string; schema: Record<string, unknown> }[] = [],
    opts: {
      errorHandler?: (err: Error, req: FastifyRequest, reply: FastifyReply) => unknown;
      /** route config the app's hooks read (RouteFlags) */
      config?: RouteFlags;
    } = {},
  ) {
    const url = `${this.prefix}${path.replace(/\{(\w+)\}/g, ':$1')}/`;
    for (const m of METHODS) {
      const def = defs[m];
      if (def) {
        this.operations.push({ ...def.doc, method: m, path, pathParams });
        this.app.route({
          method: m.toUpperCase() as 'GET',
          url,
          handler: singleValued(def.handler, def.doc.query),
          ...(opts.errorHandler ? { errorHandler: opts.errorHandler } : {}),
          ...(opts.config ? { config: opts.config } : {}),
        });
      } else {
        this.app.route({
          method: m.toUpperCase() as 'GET',
          url,
          handler: async () => {
            throw new MethodNotAllowed(m.toUpperCase());
          },
        });
      }
    }
  }
}
