/**
 * An in-memory SCIM 2.0 service provider (RFC 7643/7644) on 127.0.0.1 for the tests of the outgoing SCIM provider:
 * `/scim/v2` with /ServiceProviderConfig, /Users and /Groups (POST, GET list with `startIndex`/`count` and
 * `attr eq "value"` filters, GET, PUT, PATCH with PatchOp, DELETE), bearer-token auth and SCIM error bodies.
 * Records every request; `failNext` makes the next matching request(s) fail with a given status.
 */
import http from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface FakeScimOptions {
  /** bearer token required (default 'scim-token'); wrong/missing -> 401 */
  token?: string;
  /** ServiceProviderConfig patch.supported (default true); off -> PATCH answers 400 */
  patch?: boolean;
  /** filter.supported (default true); off -> a `filter` param answers 400 invalidFilter */
  filter?: boolean;
  /** bulk.maxOperations (default 0: bulk.supported false) */
  maxOperations?: number;
  /** false -> GET /ServiceProviderConfig answers 404 (default true) */
  serviceProviderConfig?: boolean;
  /** default `count` of list pages (default 100) */
  pageSize?: number;
  /** served over HTTPS with this key and certificate (PEM) */
  tls?: { key: string; cert: string };
}
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}
export interface FakeScim {
  /** base URL, e.g. http://127.0.0.1:PORT/scim/v2 (no trailing slash) */
  url: string;
  /** every request in order, path relative to /scim/v2 (e.g. '/Users/abc') */
  requests: RecordedRequest[];
  /** id -> stored SCIM user resource (as returned) */
  users: Map<string, Record<string, any>>;
  /** id -> stored group resource; members: [{value, display?}] always an array */
  groups: Map<string, Record<string, any>>;
  /** the next `times` (default 1) requests with this method and a path starting with pathPrefix answer `status` */
  failNext(method: string, pathPrefix: string, status: number, times?: number): void;
  /** clears `requests` only */
  reset(): void;
  close(): Promise<void>;
}

type Resource = Record<string, any>;
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

class ScimError extends Error {
  constructor(
    readonly status: number,
    detail: string,
    readonly scimType?: string,
  ) {
    super(detail);
  }
}

export async function startFakeScim(opts: FakeScimOptions = {}): Promise<FakeScim> {
  const token = opts.token ?? 'scim-token';
  const maxOperations = opts.maxOperations ?? 0;
  const users = new Map<string, Resource>();
  const groups = new Map<string, Resource>();
  const requests: RecordedRequest[] = [];
  const failures: { method: string; prefix: string; status: number; times: number }[] = [];
  let url = '';

  const spc = () => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    patch: { supported: opts.patch ?? true },
    bulk: { supported: maxOperations > 0, maxOperations, maxPayloadSize: 1048576 },
    filter: { supported: opts.filter ?? true, maxResults: 200 },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [],
  });

  // per resource type: the store, the unique attribute and the attributes a filter may name
  const kinds = {
    Users: { store: users, type: 'User', unique: 'userName', filterable: ['userName', 'externalId', 'id'] },
    Groups: { store: groups, type: 'Group', unique: 'displayName', filterable: ['displayName', 'externalId', 'id'] },
  };
  type Kind = (typeof kinds)[keyof typeof kinds];

  const same = (a: unknown, b: unknown) => typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();

  /** members as [{value, display?}], each value a known user id */
  const members = (value: unknown): Resource[] => {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw new ScimError(400, 'members must be an array', 'invalidValue');
    return value.map((m) => {
      if (!m || typeof m.value !== 'string' || !users.has(m.value)) {
        throw new ScimError(400, `unknown member ${JSON.stringify(m?.value)}`, 'invalidValue');
      }
      return typeof m.display === 'string' ? { value: m.value, display: m.display } : { value: m.value };
    });
  };

  /** `extra` appended to `current`, skipping members already present */
  const union = (current: Resource[], extra: Resource[]) => [...current, ...extra.filter((m) => !current.some((x) => x.value === m.value))];
  const object = (body: unknown): Resource => {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new ScimError(400, 'body must be an object', 'invalidSyntax');
    return body as Resource;
  };

  /** checks the resource and stores it under `id` (new resource when `prev` is absent) */
  const save = (kind: Kind, id: string, body: Resource, prev?: Resource): Resource => {
    const name = body[kind.unique];
    if (typeof name !== 'string' || !name) throw new ScimError(400, `${kind.unique} is required`, 'invalidValue');
    for (const [other, r] of kind.store) {
      if (other !== id && same(r[kind.unique], name)) throw new ScimError(409, `${kind.unique} ${name} already exists`, 'uniqueness');
    }
    const now = new Date().toISOString();
    const meta = {
      resourceType: kind.type,
      created: prev?.meta?.created ?? now,
      lastModified: now,
      location: `${url}/${kind.type}s/${id}`,
    };
    const stored: Resource = { ...body, id, meta };
    if (kind === kinds.Groups) stored.members = members(body.members);
    kind.store.set(id, stored);
    return stored;
  };

  const list = (kind: Kind, q: Record<string, string>) => {
    let all = [...kind.store.values()];
    if (q.filter !== undefined) {
      if (!(opts.filter ?? true)) throw new ScimError(400, 'filtering is not supported', 'invalidFilter');
      const m = /^\s*([\w.]+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i.exec(q.filter);
      const attr = m && kind.filterable.find((a) => same(a, m[1]));
      if (!m || !attr) throw new ScimError(400, `unsupported filter ${q.filter}`, 'invalidFilter');
      const value = m[2]!.replace(/\\(.)/g, '$1');
      all = all.filter((r) => same(r[attr], value));
    }
    const start = Math.max(1, Number.parseInt(q.startIndex ?? '1', 10) || 1);
    const count = Math.max(0, q.count === undefined ? (opts.pageSize ?? 100) : Number.parseInt(q.count, 10) || 0);
    const Resources = all.slice(start - 1, start - 1 + count);
    const schemas = ['urn:ietf:params:scim:api:messages:2.0:ListResponse'];
    return { schemas, totalResults: all.length, startIndex: start, itemsPerPage: Resources.length, Resources };
  };

  /** sets (or deletes, value undefined) a simple attribute path like `active` or `name.givenName`, names case-insensitive */
  const setPath = (r: Resource, path: string, value: unknown) => {
    if (!/^[\w$]+(\.[\w$]+)?$/.test(path)) throw new ScimError(400, `unsupported path ${path}`, 'invalidPath');
    const parts = path.split('.');
    let target = r;
    for (const [i, part] of parts.entries()) {
      const key = Object.keys(target).find((k) => same(k, part)) ?? part;
      if (i === parts.length - 1) {
        if (value === undefined) delete target[key];
        else target[key] = value;
      } else {
        if (typeof target[key] !== 'object' || target[key] === null) target[key] = {};
        target = target[key];
      }
    }
  };

  const patch = (kind: Kind, prev: Resource, body: Resource): Resource => {
    if (!Array.isArray(body?.schemas) || !body.schemas.includes(PATCH_OP)) throw new ScimError(400, 'not a PatchOp', 'invalidSyntax');
    if (!Array.isArray(body.Operations)) throw new ScimError(400, 'Operations missing', 'invalidSyntax');
    const r: Resource = structuredClone(prev);
    const isGroup = kind === kinds.Groups;
    for (const o of body.Operations) {
      const op = typeof o?.op === 'string' ? o.op.toLowerCase() : '';
      const path: string | undefined = o?.path;
      if (!['add', 'remove', 'replace'].includes(op)) throw new ScimError(400, `unknown op ${o?.op}`, 'invalidSyntax');
      const filtered = path && /^members\[\s*value\s+eq\s+"([^"]*)"\s*\]$/i.exec(path);
      if (isGroup && filtered && op === 'remove') {
        r.members = r.members.filter((m: Resource) => m.value !== filtered[1]);
      } else if (isGroup && path && same(path, 'members')) {
        const given: Resource[] = op === 'remove' && o.value === undefined ? r.members : members(o.value);
        if (op === 'replace') r.members = given;
        else if (op === 'add') r.members = union(r.members, given);
        else r.members = r.members.filter((m: Resource) => !given.some((x) => x.value === m.value));
      } else if (!path) {
        if (op === 'remove') throw new ScimError(400, 'remove needs a path', 'noTarget');
        for (const [k, v] of Object.entries(object(o.value))) {
          if (isGroup && same(k, 'members')) r.members = op === 'replace' ? members(v) : union(r.members, members(v));
          else if (!same(k, 'id') && !same(k, 'meta')) setPath(r, k, v);
        }
      } else {
        if (op !== 'remove' && o.value === undefined) throw new ScimError(400, 'value missing', 'invalidValue');
        setPath(r, path, op === 'remove' ? undefined : o.value);
      }
    }
    return save(kind, prev.id, r, prev);
  };

  const route = (method: string, path: string, q: Record<string, string>, body: any): [number, unknown?] => {
    if (path === '/ServiceProviderConfig' && method === 'GET' && (opts.serviceProviderConfig ?? true)) return [200, spc()];
    const m = /^\/(Users|Groups)(?:\/([^/]+))?$/.exec(path);
    if (!m) throw new ScimError(404, `no route ${method} ${path}`);
    if (method === 'PATCH' && !(opts.patch ?? true)) throw new ScimError(400, 'PATCH not supported');
    const kind = kinds[m[1] as keyof typeof kinds];
    const id = m[2] && decodeURIComponent(m[2]);
    if (!id) {
      if (method === 'GET') return [200, list(kind, q)];
      if (method === 'POST') return [201, save(kind, randomUUID(), object(body))];
      throw new ScimError(404, `no route ${method} ${path}`);
    }
    const prev = kind.store.get(id);
    if (!prev) throw new ScimError(404, `${kind.type} ${id} not found`);
    if (method === 'GET') return [200, prev];
    if (method === 'PUT') return [200, save(kind, id, object(body), prev)];
    if (method === 'PATCH') return [200, patch(kind, prev, body)];
    if (method === 'DELETE') {
      kind.store.delete(id);
      if (kind === kinds.Users) for (const g of groups.values()) g.members = g.members.filter((x: Resource) => x.value !== id);
      return [204];
    }
    throw new ScimError(404, `no route ${method} ${path}`);
  };

  const send = (res: http.ServerResponse, status: number, body?: unknown) => {
    if (body === undefined) res.writeHead(status).end();
    else res.writeHead(status, { 'content-type': 'application/scim+json' }).end(JSON.stringify(body));
  };
  const error = (status: number, detail: string, scimType?: string) => ({
    schemas: [ERROR],
    status: String(status),
    ...(scimType ? { scimType } : {}),
    detail,
  });

  const handler = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const scoped = /^\/scim\/v2(\/|$)/.test(u.pathname);
    const path = scoped ? u.pathname.slice('/scim/v2'.length).replace(/\/$/, '') : u.pathname;
    const query = Object.fromEntries(u.searchParams);
    let body: any;
    let invalid = false;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
      invalid = true;
    }
    requests.push({ method, path, query, body, headers: { ...req.headers } });
    try {
      if (!scoped) throw new ScimError(404, `no route ${method} ${u.pathname}`);
      const auth = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
      if (!auth || auth[1] !== token) throw new ScimError(401, 'authentication required');
      const f = failures.find((x) => x.method === method && path.startsWith(x.prefix));
      if (f) {
        if (--f.times <= 0) failures.splice(failures.indexOf(f), 1);
        throw new ScimError(f.status, `injected failure ${f.status}`);
      }
      if (invalid) throw new ScimError(400, 'invalid JSON body', 'invalidSyntax');
      const [status, out] = route(method, path, query, body);
      send(res, status, out);
    } catch (e) {
      if (e instanceof ScimError) send(res, e.status, error(e.status, e.message, e.scimType));
      else send(res, 500, error(500, String(e)));
    }
  };
  const server = opts.tls ? https.createServer(opts.tls, handler) : http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}/scim/v2`;

  return {
    url,
    requests,
    users,
    groups,
    failNext(method, pathPrefix, status, times = 1) {
      failures.push({ method: method.toUpperCase(), prefix: pathPrefix, status, times });
    },
    reset() {
      requests.length = 0;
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
