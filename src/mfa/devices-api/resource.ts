/**
 * /authenticators/{totp,static,webauthn}/ (the caller's devices) and /authenticators/admin/…/ (superusers).
 * Only `name` is writable. Admin create is a Keystage extension (upstream fails): it enrols a TOTP device or a set
 * of recovery codes for a user and shows the secret once, in that response only — recovery codes are stored as
 * HMACs, so every later response has `token_set: []`.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { mountResource, type ResourceDef } from '../../api/resource.js';
import type { ApiRouter } from '../../api/routes.js';
import { S, type Props } from '../../api/schema.js';
import { nowIso, rowToApi } from '../../api/serialize.js';
import { ValidationError } from '../../api/errors.js';
import type { DB } from '../../db/index.js';
import type { UsersTable } from '../../db/types.js';
import { partialUser } from '../../core/users.js';
import { configUrl, newTotpKey, sealTotpKey } from '../totp/totp.js';
import { secretsOf } from '../../core/secrets.js';
import { generateStaticToken, hashStaticToken } from '../static/static.js';
import { DEVICE_CLASSES, type DeviceClass } from './classes.js';

type Row = { id: number; pk: number; user_id: number; name: string; created: string; aaguid?: string } & Record<string, unknown>;

/** secrets shown once, in the response to the admin create that made them */
const shownOnce = new WeakMap<FastifyRequest, Record<string, unknown>>();

const userRef = Type.Unsafe({ $ref: '#/components/schemas/PartialUser', 'x-computed': true });

function propsOf(cls: DeviceClass, admin: boolean): Props {
  const props: Props = {
    name: S.str({ maxLength: cls === 'webauthn' ? 200 : 64 }),
    pk: S.ro(Type.Integer()),
    user: S.ro(userRef),
  };
  if (cls === 'email') props.email = S.ro(S.text());
  if (cls === 'sms') props.phone_number = S.ro(S.text());
  if (cls === 'static') props.token_set = S.ro(Type.Array(Type.Unsafe({ $ref: '#/components/schemas/StaticDeviceToken' }), { 'x-computed': true }));
  if (cls === 'webauthn') {
    props.created_on = S.ro(S.datetime({ 'x-computed': true }));
    props.device_type = S.ro(Type.Unsafe({ $ref: '#/components/schemas/WebAuthnDeviceType', nullable: true, 'x-computed': true }));
    props.aaguid = S.ro(S.text());
  }
  if (admin) {
    // Keystage extension for admin create (ignored on update)
    props.user_pk = S.wo(S.intFk({ table: 'users', column: 'id' }, { 'x-optional': true, description: 'Owner of a device created by an admin (default: the caller)' }));
    if (cls === 'totp') props.digits = S.wo(S.int({ 'x-optional': true, minimum: 6, maximum: 8 }));
    if (cls === 'static') {
      props.token_count = S.wo(S.int({ 'x-optional': true, minimum: 1, maximum: 100 }));
      props.token_length = S.wo(S.int({ 'x-optional': true, minimum: 6, maximum: 100 }));
    }
  }
  return props;
}

async function render(db: DB, cls: DeviceClass, installId: string, rows: Row[], req: FastifyRequest, props: Props) {
  const userIds = [...new Set(rows.map((r) => r.user_id))];
  const users = userIds.length ? ((await db.selectFrom('users').selectAll().where('id', 'in', userIds).execute()) as UsersTable[]) : [];
  const byId = new Map(users.map((u) => [u.id, partialUser(u, installId)]));
  const types =
    cls === 'webauthn'
      ? new Map((await db.selectFrom('webauthn_device_types').select(['aaguid', 'description']).execute()).map((t) => [t.aaguid, t]))
      : new Map<string, { aaguid: string; description: string }>();
  const once = shownOnce.get(req);
  return rows.map((r) => {
    const out: Record<string, unknown> = { ...rowToApi(props, r), pk: r.id, name: r.name, user: byId.get(r.user_id) };
    if (cls === 'static') out.token_set = [];
    if (cls === 'webauthn') {
      out.created_on = rowToApi({ d: S.datetime() }, { d: r.created }).d;
      out.device_type = types.get(String(r.aaguid)) ?? null;
      out.aaguid = r.aaguid ?? '00000000-0000-0000-0000-000000000000';
    }
    return rows.length === 1 && once ? { ...out, ...once } : out;
  });
}

export function deviceResource(cls: DeviceClass, admin: boolean, installId: string, secretKey: string, brandTitle: string): ResourceDef<Row> {
  const d = DEVICE_CLASSES[cls];
  const props = propsOf(cls, admin);
  const confirmedOnly = !admin && cls !== 'webauthn' && cls !== 'duo';
  return {
    component: d.model,
    model: d.model,
    path: admin ? `/authenticators/admin/${cls}` : `/authenticators/${cls}`,
    opPrefix: admin ? `authenticators_admin_${cls}` : `authenticators_${cls}`,
    tag: 'authenticators',
    lookup: { param: 'id', column: 'id', type: 'int' },
    props,
    ops: admin ? ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy'] : ['list', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: admin ? { kind: 'superuser' } : { kind: 'owner', column: 'user_id' },
    list: {
      filters: { name: { type: 'str', column: 'name' } },
      search: ['name'],
      ordering: { name: 'name', pk: 'id' },
      defaultOrdering: ['name'],
      pk: 'id',
    },
    select: (db) => {
      const q = db.selectFrom(d.table as 'totp_devices').selectAll().select('id as pk');
      return confirmedOnly ? q.where('confirmed', '=', 1) : q;
    },
    render: (db, rows, req) => render(db, cls, installId, rows, req, props),
    validate: async (_data, _ctx, existing) => {
      if (!existing && cls === 'webauthn')
        throw ValidationError.nonField('WebAuthn devices are registered by the authenticator itself, through an enrolment flow.');
      if (!existing && (cls === 'email' || cls === 'sms' || cls === 'duo'))
        throw ValidationError.nonField('E-mail and SMS devices are enrolled by proving the address, through an enrolment flow.');
    },
    insert: async (tx, data, ctx) => {
      const now = nowIso();
      const owner = (data.user_pk as number | undefined) ?? ctx.caller.user.id;
      const base = { user_id: owner, name: data.name as string, confirmed: 1, created: now, last_updated: now, last_used: null };
      if (cls === 'totp') {
        const key = newTotpKey();
        const digits = (data.digits as number | undefined) === 8 ? 8 : 6;
        const row = await tx
          .insertInto('totp_devices')
          .values({ ...base, key: sealTotpKey(secretsOf(ctx.db), key), digits, step: 30, t0: 0, drift: 0, last_t: -1, throttling_failure_timestamp: null, throttling_failure_count: 0 } as never)
          .returning('id')
          .executeTakeFirstOrThrow();
        const user = await tx.selectFrom('users').select('username').where('id', '=', owner).executeTakeFirstOrThrow();
        shownOnce.set(ctx.req, { config_url: configUrl({ key, digits, step: 30 }, user.username, brandTitle) });
        return row.id;
      }
      const row = await tx
        .insertInto('static_devices')
        .values({ ...base, throttling_failure_timestamp: null, throttling_failure_count: 0 } as never)
        .returning('id')
        .executeTakeFirstOrThrow();
      const count = (data.token_count as number | undefined) ?? 6;
      const length = (data.token_length as number | undefined) ?? 12;
      const tokens = Array.from({ length: count }, () => generateStaticToken(length));
      for (const token of tokens) await tx.insertInto('static_tokens').values({ device_id: row.id, token: hashStaticToken(secretKey, token) } as never).execute();
      shownOnce.set(ctx.req, { token_set: tokens.map((token) => ({ token })) });
      return row.id;
    },
    update: async (tx, existing, data) => {
      if (data.name !== undefined)
        await tx
          .updateTable(d.table as 'totp_devices')
          .set({ name: data.name as string, last_updated: nowIso() })
          .where('id', '=', existing.id)
          .execute();
      return existing.id;
    },
    remove: async (tx, existing) => {
      await tx.deleteFrom(d.table as 'totp_devices').where('id', '=', existing.id).execute();
    },
    usedBy: async () => [],
  };
}

export function mountDeviceResources(router: ApiRouter, db: DB, installId: string, secretKey: string, brandTitle: string) {
  for (const cls of ['duo', 'email', 'sms', 'static', 'totp', 'webauthn'] as const) {
    mountResource(router, db, deviceResource(cls, false, installId, secretKey, brandTitle));
    mountResource(router, db, deviceResource(cls, true, installId, secretKey, brandTitle));
  }
}
