/**
 * /core/authenticated_sessions/ (authentik's AuthenticatedSessionViewSet): the sessions people are logged in with —
 * list, retrieve, delete (the session ends: its row goes, and what ends with a logout, such as an OAuth2 provider's
 * access tokens, ends too), used_by, and `bulk_delete` (every session of the given users, with `delete_authenticatedsession`). A person
 * sees and ends their own, a superuser everyone's. Sessions are addressed by their public `uuid`, never by the
 * secret key; `current` marks the caller's own session.
 */
import { Type } from '@sinclair/typebox';
import { mountResource, type ResourceDef } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import { drfDate } from '../rest/serialize.js';
import { requirePermission } from '../rbac/check.js';
import { guardTargetUser } from '../rbac/guards.js';
import { registerModel } from '../rbac/catalogue.js';

// (the sessions' own list is each person's; `bulk_delete` is by this model's delete permission)
registerModel({ label: 'authentik_core.authenticatedsession', verbose: 'Authenticated Session' });
import { ValidationError } from '../rest/errors.js';
import type { Services } from '../services.js';
import { parseUserAgent, userAgentSchema } from './user-agent.js';

interface Row {
  uuid: string;
  session_key: string;
  user_id: number;
  username: string;
  last_ip: string;
  last_user_agent: string;
  last_seen: string | null;
  created: string;
  expires: string;
}

const nullable = (type: string, format?: string) => ({ type, ...(format ? { format } : {}), nullable: true });
/** where the session's last address is, from the GeoIP and ASN databases (src/geoip/); null when unknown or off */
const GEO_IP = {
  type: 'object',
  description: 'Get GeoIP Data',
  properties: {
    continent: nullable('string'),
    country: nullable('string'),
    lat: nullable('number', 'double'),
    long: nullable('number', 'double'),
    city: { type: 'string' },
  },
  required: ['city', 'continent', 'country', 'lat', 'long'],
  nullable: true,
};
const ASN = {
  type: 'object',
  description: 'Get ASN Data',
  properties: { asn: nullable('integer'), as_org: nullable('string'), network: nullable('string') },
  required: ['as_org', 'asn', 'network'],
  nullable: true,
};

const sessionProps = {
  uuid: S.ro(S.uuid()),
  current: S.ro(S.bool({ description: 'Check if session is currently active session' })),
  user_agent: S.ro(Type.Unsafe({ ...userAgentSchema, 'x-computed': true })),
  geo_ip: S.ro(Type.Unsafe({ ...GEO_IP, 'x-computed': true })),
  asn: S.ro(Type.Unsafe({ ...ASN, 'x-computed': true })),
  user: S.int(),
  last_ip: S.ro(S.str()),
  last_user_agent: S.ro(S.str()),
  last_used: S.ro(S.datetime()),
  expires: S.ro(S.datetime()),
};

export function mountAuthenticatedSessions(router: ApiRouter, svc: Services) {
  const { db } = svc;
  const resource: ResourceDef<Row> = {
    component: 'AuthenticatedSession',
    model: 'AuthenticatedSession',
    path: '/core/authenticated_sessions',
    opPrefix: 'core_authenticated_sessions',
    tag: 'core',
    lookup: { param: 'uuid', column: 's.uuid', rowKey: 'uuid', type: 'uuid' },
    props: sessionProps,
    ops: ['list', 'retrieve', 'destroy', 'used_by'],
    access: { kind: 'owner', column: 's.user_id' },
    list: {
      filters: {
        user__username: { type: 'str', column: 'u.username' },
        session__last_ip: { type: 'str', column: 's.last_ip' },
        session__last_user_agent: { type: 'str', column: 's.last_user_agent' },
      },
      search: ['u.username', 's.last_ip', 's.last_user_agent'],
      ordering: { user__username: 'u.username', last_used: 's.last_seen', expires: 's.expires', uuid: 's.uuid' },
      defaultOrdering: ['user__username'],
      pk: 's.uuid',
    },
    // logged-in sessions that have not expired (an expired row is swept, not shown)
    select: (db) =>
      db
        .selectFrom('sessions as s')
        .innerJoin('users as u', 'u.id', 's.user_id')
        .select([
          's.uuid',
          's.session_key',
          's.user_id',
          'u.username',
          's.last_ip',
          's.last_user_agent',
          's.last_seen',
          's.created',
          's.expires',
        ])
        .where('s.uuid', 'is not', null)
        .where('s.expires', '>', new Date().toISOString()),
    render: async (_db, rows, req) =>
      rows.map((r) => ({
        uuid: r.uuid,
        current: req.caller?.via === 'session' && req.caller.sessionKey === r.session_key,
        user_agent: parseUserAgent(r.last_user_agent),
        geo_ip: svc.geoip.city(r.last_ip),
        asn: svc.geoip.asn(r.last_ip),
        user: Number(r.user_id),
        last_ip: r.last_ip,
        last_user_agent: r.last_user_agent,
        last_used: drfDate(r.last_seen ?? r.created),
        expires: drfDate(r.expires),
      })),
    remove: async (tx, row) => {
      await tx.deleteFrom('sessions').where('session_key', '=', row.session_key).execute();
    },
    afterRemove: (row, ctx) =>
      svc.sessions.ended(row.session_key, {
        userId: Number(row.user_id),
        by: ctx.caller.user.id === Number(row.user_id) ? 'user' : 'admin',
      }),
    usedBy: async () => [],
  };
  mountResource(router, db, resource);

  router.component('BulkDeleteSessionResponse', {
    type: 'object',
    properties: { deleted: { type: 'integer' } },
    required: ['deleted'],
  });
  router.route('/core/authenticated_sessions/bulk_delete', {
    delete: {
      doc: {
        operationId: 'core_authenticated_sessions_bulk_delete_destroy',
        tag: 'core',
        query: [
          {
            name: 'user_pks',
            schema: { type: 'array', items: { type: 'integer' } },
            explode: true,
          },
        ],
        response: 'BulkDeleteSessionResponse',
      },
      handler: async (req) => {
        // (DRF's model permission for a DELETE on the list; beyond authentik, a superuser's sessions are ended by a
        // superuser only: rbac/guards.ts)
        const caller = await requirePermission(db, req, 'authentik_core.delete_authenticatedsession');
        const raw = (req.query as Record<string, unknown>).user_pks;
        const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
        if (!list.length) throw ValidationError.field('user_pks', 'This field is required.');
        const ids = list.map((v) => (typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : Number.NaN));
        if (ids.some((n) => !Number.isSafeInteger(n))) throw ValidationError.field('user_pks', 'A valid integer is required.');
        for (const id of ids) await guardTargetUser(db, caller, id);
        // (the rows deleted are the ones told: a session made between a read and the delete is not missed)
        const ended = await db.deleteFrom('sessions').where('user_id', 'in', ids).returning(['session_key', 'user_id']).execute();
        for (const s of ended) await svc.sessions.ended(s.session_key, { userId: Number(s.user_id), by: 'admin' });
        return { deleted: ended.length };
      },
    },
  });
}
