/**
 * The SCIM 2.0 service an identity provider provisions Keystage through (authentik's SCIM source, RFC 7643/7644), at
 * `/source/scim/<slug>/v2/`: `Users` and `Groups` (list with `filter`, `startIndex`, `count`; read, create, replace,
 * PATCH, delete), `ServiceProviderConfig`, `ResourceTypes` and `Schemas`. The identity provider authenticates with the
 * source's token (`Authorization: Bearer …`); answers are `application/scim+json`, errors SCIM's error messages.
 *
 * A resource's representation is what the identity provider last sent, with Keystage's `id`, `meta` and the object's
 * own fields; a write maps it (the source's base properties, then its property mappings with `data`) onto a user or
 * group — an existing one of that username or name is taken over, as authentik does — in one transaction.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { apiTokenOf, bearerOf } from '../../rest/auth.js';
import { requestOrigin } from '../../brands/links.js';
import { nowIso } from '../../rest/serialize.js';
import { deleteSessionsOf, insertUser } from '../../users/store.js';
import { deleteGroup, insertGroup, NAME_TAKEN, updateGroup } from '../../groups/store.js';
import { systemSettings } from '../../instance/system-settings/store.js';
import { deleteEventsOfUser } from '../../events/events.js';
import { mapProperties, sourceMappings, userPathOf } from '../mappings.js';
import { compileFilter, keyOf, ScimFilterError, type Resource } from './filter.js';
import { applyPatch, ScimPatchError } from './patch.js';
import { GROUP_SCHEMA, LIST_SCHEMA, resourceTypes, schemas, serviceProviderConfig, USER_SCHEMA } from './discovery.js';
import { lastValue } from '../../rest/routes.js';
import { lockConfigEpoch } from '../../db/config-epoch.js';
import { isUniqueViolation } from '../../db/dialect.js';
import type { Tx } from '../../rest/resource.js';

/**
 * A SCIM write's transaction: it takes the admin-write lock first, as the API's user and group writes do, so what it
 * checks inside (a name free, the object and the members it names still there) holds until it commits, whatever
 * else writes at the same time (another request of the directory, an administrator).
 */
function scimWrite<T>(svc: Services, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return svc.db.transaction().execute(async (tx) => {
    await lockConfigEpoch(tx);
    return fn(tx);
  });
}

/** the connection row of `existing` is still there once the lock is held (else a concurrent DELETE went first) */
async function stillThere(tx: Tx, table: 'scim_source_users' | 'scim_source_groups', id: string, what: 'User' | 'Group') {
  if (!(await tx.selectFrom(table).select('id').where('id', '=', id).executeTakeFirst())) throw new ScimError(404, `${what} not found.`);
}

const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
const CONTENT_TYPE = 'application/scim+json';

export class ScimError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly scimType?: string,
  ) {
    super(message);
  }
}

interface Source {
  source_uuid: string;
  slug: string;
  name: string;
  user_path_template: string;
}

const send = (reply: FastifyReply, status: number, body?: unknown) => {
  reply.code(status).header('content-type', CONTENT_TYPE);
  return body === undefined ? reply.send() : reply.send(JSON.stringify(body));
};

const fail = (reply: FastifyReply, e: ScimError) =>
  send(reply, e.status, {
    schemas: [ERROR_SCHEMA],
    ...(e.scimType ? { scimType: e.scimType } : {}),
    detail: e.message,
    status: String(e.status),
  });

/** the source of the URL when the bearer token is its token (authentik's SCIMTokenAuth) */
async function authenticate(svc: Services, req: FastifyRequest): Promise<Source> {
  const credential = bearerOf(req);
  if (credential === undefined) throw new ScimError(401, 'Authentication credentials were not provided.');
  const token = await apiTokenOf(svc.db, credential);
  const row =
    token && token.is_active
      ? await svc.db
          .selectFrom('sources as s')
          .innerJoin('scim_sources as c', 'c.source_uuid', 's.source_uuid')
          .select(['s.source_uuid', 's.slug', 's.name', 's.user_path_template', 's.enabled'])
          .where('s.slug', '=', (req.params as { slug: string }).slug)
          .where('c.token_uuid', '=', token.token_uuid)
          .executeTakeFirst()
      : undefined;
  if (!row || !row.enabled) throw new ScimError(401, 'Invalid token.');
  return row;
}

/** authentik's SCIMSource.get_base_user_properties */
function baseUser(s: Source, data: Resource): Resource {
  const p: Resource = { path: userPathOf(s) };
  const k = (n: string) => keyOf(data, n);
  if (k('userName')) p.username = data[k('userName')!];
  if (k('name')) {
    const name = data[k('name')!] as Resource | undefined;
    const formatted = name && typeof name === 'object' ? name[keyOf(name, 'formatted') ?? 'formatted'] : undefined;
    p.name = formatted ?? (k('displayName') ? data[k('displayName')!] : undefined);
  } else if (k('displayName')) p.name = data[k('displayName')!];
  if (k('emails')) {
    const emails = (Array.isArray(data[k('emails')!]) ? data[k('emails')!] : []) as Resource[];
    const primary = emails.find((e) => e?.primary === true) ?? emails[0];
    p.email = primary?.value ?? '';
  }
  if (k('active')) {
    const a = data[k('active')!];
    p.is_active = a === true || a === 'True' || a === 'true';
  }
  return p;
}

const location = (req: FastifyRequest, s: Source, kind: 'Users' | 'Groups', id: string) =>
  `${requestOrigin(req)}/source/scim/${s.slug}/v2/${kind}/${id}`;

type UserRow = {
  id: string;
  external_id: string;
  attributes: string;
  user_id: number;
  username: string;
  name: string;
  email: string;
  is_active: number;
  date_joined: string;
  last_updated: string;
};
type GroupRow = { id: string; external_id: string; attributes: string; group_uuid: string; name: string };

function userToScim(req: FastifyRequest, s: Source, r: UserRow): Resource {
  const own = JSON.parse(r.attributes || '{}') as Resource;
  return {
    schemas: [USER_SCHEMA],
    userName: r.username,
    name: { formatted: r.name },
    displayName: r.name,
    active: !!r.is_active,
    emails: r.email ? [{ value: r.email, type: 'work', primary: true }] : [],
    ...own,
    id: r.id,
    ...(r.external_id ? { externalId: r.external_id } : {}),
    meta: { resourceType: 'User', created: r.date_joined, lastModified: r.last_updated, location: location(req, s, 'Users', r.id) },
  };
}

function groupToScim(req: FastifyRequest, s: Source, r: GroupRow, members: { value: string; display: string }[]): Resource {
  const own = JSON.parse(r.attributes || '{}') as Resource;
  return {
    schemas: [GROUP_SCHEMA],
    ...own,
    displayName: r.name,
    members,
    id: r.id,
    ...(r.external_id ? { externalId: r.external_id } : {}),
    meta: { resourceType: 'Group', location: location(req, s, 'Groups', r.id) },
  };
}

const users = (svc: Services, s: Source) =>
  svc.db
    .selectFrom('scim_source_users as c')
    .innerJoin('users as u', 'u.id', 'c.user_id')
    .select([
      'c.id',
      'c.external_id',
      'c.attributes',
      'c.user_id',
      'u.username',
      'u.name',
      'u.email',
      'u.is_active',
      'u.date_joined',
      'u.last_updated',
    ])
    .where('c.source_uuid', '=', s.source_uuid);

const groups = (svc: Services, s: Source) =>
  svc.db
    .selectFrom('scim_source_groups as c')
    .innerJoin('groups as g', 'g.group_uuid', 'c.group_uuid')
    .select(['c.id', 'c.external_id', 'c.attributes', 'c.group_uuid', 'g.name'])
    .where('c.source_uuid', '=', s.source_uuid);

/** the SCIM members of groups: the members this source provisioned, by their SCIM ids */
async function membersOf(svc: Services, s: Source, groupUuids: string[]) {
  const out = new Map<string, { value: string; display: string }[]>();
  for (const g of groupUuids) out.set(g, []);
  if (!groupUuids.length) return out;
  const rows = await svc.db
    .selectFrom('user_groups as m')
    .innerJoin('scim_source_users as c', 'c.user_id', 'm.user_id')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .select(['m.group_uuid', 'c.id', 'u.username'])
    .where('c.source_uuid', '=', s.source_uuid)
    .where('m.group_uuid', 'in', groupUuids)
    .orderBy('u.username')
    .execute();
  for (const r of rows) out.get(r.group_uuid)?.push({ value: r.id, display: r.username });
  return out;
}

/** the SCIM ids a request names as members, as Keystage users of this source (an unknown id is a 400) */
async function memberIds(tx: Tx, s: Source, data: Resource): Promise<number[] | undefined> {
  const k = keyOf(data, 'members');
  if (k === undefined) return undefined;
  const list = Array.isArray(data[k]) ? (data[k] as Resource[]) : [];
  const ids = [...new Set(list.map((m) => String(m?.value ?? '')))].filter(Boolean);
  if (!ids.length) return [];
  const rows = await tx
    .selectFrom('scim_source_users')
    .select(['id', 'user_id'])
    .where('source_uuid', '=', s.source_uuid)
    .where('id', 'in', ids)
    .execute();
  if (rows.length !== ids.length) throw new ScimError(400, 'One or more group members are not users of this SCIM source.', 'invalidValue');
  return rows.map((r) => r.user_id);
}

async function mapped(svc: Services, req: FastifyRequest, s: Source, kind: 'user' | 'group', base: Resource, data: Resource) {
  const r = await mapProperties(svc, req, s, await sourceMappings(svc, s.source_uuid, kind), base, { data: data as never }, 'scim');
  if (!r.ok) throw new ScimError(400, `Failed to evaluate property mapping: '${r.mapping}'`, 'invalidValue');
  return r.properties;
}

/** a user created or updated from `data` (authentik's update_user) */
async function writeUser(svc: Services, req: FastifyRequest, s: Source, existing: UserRow | undefined, data: Resource): Promise<string> {
  const p = await mapped(svc, req, s, 'user', baseUser(s, data), data);
  if (typeof p.username !== 'string' || !p.username) throw new ScimError(400, 'Missing required attribute: userName', 'invalidValue');
  const fields: Resource = { username: p.username };
  for (const f of ['name', 'email', 'path'] as const) if (typeof p[f] === 'string') fields[f] = p[f];
  if (typeof p.is_active === 'boolean') fields.is_active = p.is_active;
  const attributes = p.attributes && typeof p.attributes === 'object' ? (p.attributes as Resource) : undefined;
  const externalId = typeof data[keyOf(data, 'externalId') ?? ''] === 'string' ? (data[keyOf(data, 'externalId')!] as string) : '';
  const stored: Resource = { ...data };
  for (const k of ['id', 'meta']) delete stored[keyOf(stored, k) ?? k];
  // sessions of a person the write deactivated: told to Sessions.ended once it committed
  let ended: { userId: number; keys: string[] } | undefined;
  const written = await scimWrite(svc, async (tx) => {
    if (existing) await stillThere(tx, 'scim_source_users', existing.id, 'User');
    const byName = await tx
      .selectFrom('users')
      .select(['id', 'attributes'])
      .where('username', '=', p.username as string)
      .executeTakeFirst();
    if (existing && byName && byName.id !== existing.user_id)
      throw new ScimError(409, 'User with this userName already exists.', 'uniqueness');
    let userId = existing?.user_id ?? byName?.id;
    if (userId === undefined) userId = await insertUser(tx, { ...fields, ...(attributes ? { attributes } : {}) });
    else {
      const row = await tx.selectFrom('users').select('attributes').where('id', '=', userId).executeTakeFirstOrThrow();
      const set: Resource = { ...fields, last_updated: nowIso() };
      if ('is_active' in set) set.is_active = set.is_active ? 1 : 0;
      if (attributes) set.attributes = JSON.stringify({ ...(JSON.parse(row.attributes || '{}') as Resource), ...attributes });
      await tx
        .updateTable('users')
        .set(set as never)
        .where('id', '=', userId)
        .execute();
      // a deactivated person's sessions end, as when an administrator deactivates them
      if (set.is_active === 0) ended = { userId, keys: await deleteSessionsOf(tx, userId) };
    }
    if (existing) {
      await tx
        .updateTable('scim_source_users')
        .set({ attributes: JSON.stringify(stored), external_id: externalId || existing.external_id })
        .where('id', '=', existing.id)
        .execute();
      return existing.id;
    }
    const other = await tx
      .selectFrom('scim_source_users')
      .select('id')
      .where('source_uuid', '=', s.source_uuid)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (other) throw new ScimError(409, 'User with this userName already exists.', 'uniqueness');
    const id = randomUUID();
    await tx
      .insertInto('scim_source_users')
      .values({ id, external_id: externalId, user_id: userId, source_uuid: s.source_uuid, attributes: JSON.stringify(stored) })
      .execute();
    return id;
  });
  if (ended) await svc.sessions.endedAll(ended.keys, { userId: ended.userId, by: 'admin' });
  return written;
}

async function writeGroup(svc: Services, req: FastifyRequest, s: Source, existing: GroupRow | undefined, data: Resource): Promise<string> {
  const base: Resource = {};
  const dn = keyOf(data, 'displayName');
  if (dn) base.name = data[dn];
  const p = await mapped(svc, req, s, 'group', base, data);
  if (typeof p.name !== 'string' || !p.name) throw new ScimError(400, 'Missing required attribute: displayName', 'invalidValue');
  const attributes = p.attributes && typeof p.attributes === 'object' ? (p.attributes as Resource) : undefined;
  const externalId = typeof data[keyOf(data, 'externalId') ?? ''] === 'string' ? (data[keyOf(data, 'externalId')!] as string) : '';
  const stored: Resource = { ...data };
  for (const k of ['id', 'meta', 'members']) delete stored[keyOf(stored, k) ?? k];
  return scimWrite(svc, async (tx) => {
    if (existing) await stillThere(tx, 'scim_source_groups', existing.id, 'Group');
    const members = await memberIds(tx, s, data);
    const byName = await tx
      .selectFrom('groups')
      .select('group_uuid')
      .where('name', '=', p.name as string)
      .executeTakeFirst();
    if (existing && byName && byName.group_uuid !== existing.group_uuid)
      throw new ScimError(409, 'Group with this displayName already exists.', 'uniqueness');
    let uuid = existing?.group_uuid ?? byName?.group_uuid;
    try {
      if (uuid === undefined) uuid = await insertGroup(tx, { name: p.name, ...(attributes ? { attributes } : {}) });
      else await updateGroup(tx, uuid, { name: p.name, ...(attributes ? { attributes } : {}) });
    } catch (e) {
      if ((e as { errors?: Record<string, string[]> }).errors?.name?.[0] === NAME_TAKEN)
        throw new ScimError(409, 'Group with this displayName already exists.', 'uniqueness');
      throw e;
    }
    if (members !== undefined) {
      // (the members this source provisioned are replaced; others an administrator added stay)
      await tx
        .deleteFrom('user_groups')
        .where('group_uuid', '=', uuid)
        .where('user_id', 'in', (eb) => eb.selectFrom('scim_source_users').select('user_id').where('source_uuid', '=', s.source_uuid))
        .execute();
      if (members.length)
        await tx
          .insertInto('user_groups')
          .values(members.map((user_id) => ({ user_id, group_uuid: uuid! })))
          .onConflict((oc) => oc.columns(['user_id', 'group_uuid']).doNothing())
          .execute();
    }
    if (existing) {
      await tx
        .updateTable('scim_source_groups')
        .set({ attributes: JSON.stringify(stored), external_id: externalId || existing.external_id })
        .where('id', '=', existing.id)
        .execute();
      return existing.id;
    }
    const other = await tx
      .selectFrom('scim_source_groups')
      .select('id')
      .where('source_uuid', '=', s.source_uuid)
      .where('group_uuid', '=', uuid)
      .executeTakeFirst();
    if (other) throw new ScimError(409, 'Group with this displayName already exists.', 'uniqueness');
    const id = randomUUID();
    await tx
      .insertInto('scim_source_groups')
      .values({ id, external_id: externalId, group_uuid: uuid, source_uuid: s.source_uuid, attributes: JSON.stringify(stored) })
      .execute();
    return id;
  });
}

/** a query parameter's value: the last, when the key is repeated (as Django's QueryDict) */
function param(req: FastifyRequest, name: string): string | undefined {
  return lastValue((req.query as Record<string, string | string[] | undefined>)[name]);
}

/** a page of a list: RFC 7644's 1-based `startIndex` and `count` (at most 100) */
function page<T>(req: FastifyRequest, all: T[]) {
  const start = Math.max(1, Number.parseInt(param(req, 'startIndex') ?? '1', 10) || 1);
  const count = Math.min(100, Math.max(0, Number.parseInt(param(req, 'count') ?? '100', 10) || 0));
  return { slice: all.slice(start - 1, start - 1 + count), start };
}

function filtered(req: FastifyRequest, resources: Resource[]): Resource[] {
  const f = param(req, 'filter');
  if (!f) return resources;
  let pred: (r: Resource) => boolean;
  try {
    pred = compileFilter(f);
  } catch (e) {
    if (e instanceof ScimFilterError) throw new ScimError(400, e.message, 'invalidFilter');
    throw e;
  }
  return resources.filter(pred);
}

function excluded(req: FastifyRequest, r: Resource): Resource {
  const ex = param(req, 'excludedAttributes');
  if (!ex) return r;
  const out = { ...r };
  for (const k of ex.split(',')) {
    const key = keyOf(out, k.trim());
    if (key && key !== 'id' && key !== 'schemas') delete out[key];
  }
  return out;
}

const list = (req: FastifyRequest, resources: Resource[]) => {
  const all = filtered(req, resources);
  const { slice, start } = page(req, all);
  return {
    schemas: [LIST_SCHEMA],
    totalResults: all.length,
    itemsPerPage: slice.length,
    startIndex: start,
    Resources: slice.map((r) => excluded(req, r)),
  };
};

const bodyOf = (req: FastifyRequest): Resource => {
  const b = req.body;
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw new ScimError(400, 'The request body must be a JSON object.', 'invalidSyntax');
  return b as Resource;
};

export function mountScimProtocol(app: FastifyInstance, svc: Services) {
  const handle =
    (fn: (req: FastifyRequest, reply: FastifyReply, s: Source) => Promise<unknown>) => async (req: FastifyRequest, reply: FastifyReply) => {
      try {
        const s = await authenticate(svc, req);
        return await fn(req, reply, s);
      } catch (e) {
        if (e instanceof ScimError) return fail(reply, e);
        if (e instanceof ScimPatchError) return fail(reply, new ScimError(400, e.message, e.scimType));
        // a user or group another writer (a flow's enrollment, …) created at the same time, between the check and the write
        if (isUniqueViolation(e))
          return fail(reply, new ScimError(409, 'A user or group with these values was created at the same time.', 'uniqueness'));
        throw e;
      }
    };
  const id = (req: FastifyRequest) => (req.params as { id: string }).id;
  const oneUser = async (s: Source, uid: string) => {
    const r = (await users(svc, s).where('c.id', '=', uid).executeTakeFirst()) as UserRow | undefined;
    if (!r) throw new ScimError(404, 'User not found.');
    return r;
  };
  const oneGroup = async (s: Source, gid: string) => {
    const r = (await groups(svc, s).where('c.id', '=', gid).executeTakeFirst()) as GroupRow | undefined;
    if (!r) throw new ScimError(404, 'Group not found.');
    return r;
  };
  const renderGroups = async (req: FastifyRequest, s: Source, rows: GroupRow[]) => {
    const members = await membersOf(
      svc,
      s,
      rows.map((r) => r.group_uuid),
    );
    return rows.map((r) => groupToScim(req, s, r, members.get(r.group_uuid) ?? []));
  };
  const config = { noConfigWrites: true };
  app.register(async (scope) => {
    const base = '/source/scim/:slug/v2';
    scope.get(
      `${base}/`,
      { config },
      handle(async (_req, reply) => send(reply, 200, { message: 'Use this base-URL with a SCIM-compatible system.' })),
    );
    scope.get(
      `${base}/ServiceProviderConfig`,
      { config },
      handle(async (req, reply) => send(reply, 200, serviceProviderConfig(requestOrigin(req)))),
    );
    scope.get(
      `${base}/ResourceTypes`,
      { config },
      handle(async (req, reply, s) => send(reply, 200, resourceTypes(requestOrigin(req), s.slug))),
    );
    scope.get(
      `${base}/ResourceTypes/:id`,
      { config },
      handle(async (req, reply, s) => {
        const t = resourceTypes(requestOrigin(req), s.slug).Resources.find((r) => r.id === id(req));
        if (!t) throw new ScimError(404, 'Resource type not found.');
        return send(reply, 200, t);
      }),
    );
    scope.get(
      `${base}/Schemas`,
      { config },
      handle(async (_req, reply) => send(reply, 200, schemas())),
    );
    scope.get(
      `${base}/Schemas/:id`,
      { config },
      handle(async (req, reply) => {
        const t = schemas().Resources.find((r) => r.id === id(req));
        if (!t) throw new ScimError(404, 'Schema not found.');
        return send(reply, 200, t);
      }),
    );

    scope.get(
      `${base}/Users`,
      { config },
      handle(async (req, reply, s) => {
        const rows = (await users(svc, s).orderBy('u.username').execute()) as UserRow[];
        return send(
          reply,
          200,
          list(
            req,
            rows.map((r) => userToScim(req, s, r)),
          ),
        );
      }),
    );
    scope.get(
      `${base}/Users/:id`,
      { config },
      handle(async (req, reply, s) => send(reply, 200, excluded(req, userToScim(req, s, await oneUser(s, id(req)))))),
    );
    scope.post(
      `${base}/Users`,
      { config },
      handle(async (req, reply, s) => {
        const data = bodyOf(req);
        const name = data[keyOf(data, 'userName') ?? 'userName'];
        if (typeof name === 'string' && (await users(svc, s).where('u.username', '=', name).executeTakeFirst()))
          throw new ScimError(409, 'User with this userName already exists.', 'uniqueness');
        const uid = await writeUser(svc, req, s, undefined, data);
        return send(reply, 201, userToScim(req, s, await oneUser(s, uid)));
      }),
    );
    scope.put(
      `${base}/Users/:id`,
      { config },
      handle(async (req, reply, s) => {
        const existing = await oneUser(s, id(req));
        await writeUser(svc, req, s, existing, bodyOf(req));
        return send(reply, 200, userToScim(req, s, await oneUser(s, existing.id)));
      }),
    );
    scope.patch(
      `${base}/Users/:id`,
      { config },
      handle(async (req, reply, s) => {
        const existing = await oneUser(s, id(req));
        const patched = applyPatch(userToScim(req, s, existing), bodyOf(req));
        await writeUser(svc, req, s, existing, patched);
        return send(reply, 200, userToScim(req, s, await oneUser(s, existing.id)));
      }),
    );
    scope.delete(
      `${base}/Users/:id`,
      { config },
      handle(async (req, reply, s) => {
        const existing = await oneUser(s, id(req));
        // the person's sessions end first, as an administrator's deletion (their applications are told while the
        // person and the tokens the deletion takes along still exist)
        await svc.sessions.endAllOf(existing.user_id, 'admin');
        await scimWrite(svc, async (tx) => {
          await stillThere(tx, 'scim_source_users', existing.id, 'User');
          await tx.deleteFrom('scim_source_users').where('id', '=', existing.id).execute();
          // (as an administrator's deletion: with GDPR compliance on, the person's events go too)
          if ((await systemSettings(tx)).gdpr_compliance) await deleteEventsOfUser(tx, existing.user_id);
          await tx.deleteFrom('users').where('id', '=', existing.user_id).execute();
        });
        return send(reply, 204);
      }),
    );

    scope.get(
      `${base}/Groups`,
      { config },
      handle(async (req, reply, s) => {
        const rows = (await groups(svc, s).orderBy('g.name').execute()) as GroupRow[];
        return send(reply, 200, list(req, await renderGroups(req, s, rows)));
      }),
    );
    scope.get(
      `${base}/Groups/:id`,
      { config },
      handle(async (req, reply, s) => send(reply, 200, excluded(req, (await renderGroups(req, s, [await oneGroup(s, id(req))]))[0]!))),
    );
    scope.post(
      `${base}/Groups`,
      { config },
      handle(async (req, reply, s) => {
        const data = bodyOf(req);
        const name = data[keyOf(data, 'displayName') ?? 'displayName'];
        if (typeof name === 'string' && (await groups(svc, s).where('g.name', '=', name).executeTakeFirst()))
          throw new ScimError(409, 'Group with this displayName already exists.', 'uniqueness');
        const gid = await writeGroup(svc, req, s, undefined, data);
        return send(reply, 201, (await renderGroups(req, s, [await oneGroup(s, gid)]))[0]);
      }),
    );
    scope.put(
      `${base}/Groups/:id`,
      { config },
      handle(async (req, reply, s) => {
        const existing = await oneGroup(s, id(req));
        await writeGroup(svc, req, s, existing, bodyOf(req));
        return send(reply, 200, (await renderGroups(req, s, [await oneGroup(s, existing.id)]))[0]);
      }),
    );
    scope.patch(
      `${base}/Groups/:id`,
      { config },
      handle(async (req, reply, s) => {
        const existing = await oneGroup(s, id(req));
        const [current] = await renderGroups(req, s, [existing]);
        const patched = applyPatch(current!, bodyOf(req));
        // (members compared by value: what a PATCH left is the group's membership)
        const k = keyOf(patched, 'members');
        if (k) patched[k] = (Array.isArray(patched[k]) ? (patched[k] as Resource[]) : []).map((m) => ({ value: m?.value }));
        await writeGroup(svc, req, s, existing, patched);
        return send(reply, 200, (await renderGroups(req, s, [await oneGroup(s, existing.id)]))[0]);
      }),
    );
    scope.delete(
      `${base}/Groups/:id`,
      { config },
      handle(async (req, reply, s) => {
        const existing = await oneGroup(s, id(req));
        await scimWrite(svc, async (tx) => {
          await stillThere(tx, 'scim_source_groups', existing.id, 'Group');
          await tx.deleteFrom('scim_source_groups').where('id', '=', existing.id).execute();
          await deleteGroup(tx, existing.group_uuid);
        });
        return send(reply, 204);
      }),
    );
  });
}
