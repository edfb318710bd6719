/**
 * /authenticators/{class}/ (the caller's devices) and /authenticators/admin/{class}/ (superusers), for every device
 * class in the registry. Only `name` is writable. Admin create is a Keystage extension (upstream fails) for the
 * classes that offer one (TOTP, recovery codes): it enrols a device for a user and shows its secret once, in that
 * response only.
 */
import { guardTargetUser } from '../../rbac/guards.js';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { mountResource, type ResourceDef } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { S, type Props } from '../../rest/schema.js';
import { nowIso, rowToApi } from '../../rest/serialize.js';
import { ValidationError } from '../../rest/errors.js';
import type { DB } from '../../db/index.js';
import { partialUsersById } from '../../users/render.js';
import type { DeviceClass } from '../device-class.js';
import type { CredentialChange, Signals } from '../../events/signals.js';
import { deviceClassesByApp } from '../registry.js';

type Row = { id: number; pk: number; user_id: number; name: string; created: string; aaguid?: string } & Record<string, unknown>;

/** secrets shown once, in the response to the admin create that made them */
const shownOnce = new WeakMap<FastifyRequest, Record<string, unknown>>();

const userRef = Type.Unsafe({ $ref: '#/components/schemas/PartialUser', 'x-computed': true });

function propsOf(k: DeviceClass, admin: boolean): Props {
  const props: Props = {
    name: S.str({ maxLength: k.api.nameMaxLength ?? 64 }),
    pk: S.ro(Type.Integer()),
    user: S.ro(userRef),
    ...k.api.props,
  };
  if (admin) {
    // Keystage extension for admin create (ignored on update)
    props.user_pk = S.wo(
      S.intFk(
        { table: 'users', column: 'id' },
        { 'x-optional': true, description: 'Owner of a device created by an admin (default: the caller)' },
      ),
    );
    Object.assign(props, k.api.adminProps);
  }
  return props;
}

async function render(db: DB, k: DeviceClass, installId: string, rows: Row[], req: FastifyRequest, props: Props) {
  const byId = await partialUsersById(
    db,
    rows.map((r) => r.user_id),
    installId,
  );
  const extra = k.api.render ? await k.api.render(db, rows as never[]) : undefined;
  const once = shownOnce.get(req);
  return rows.map((r) => {
    const out: Record<string, unknown> = { ...rowToApi(props, r), pk: r.id, name: r.name, user: byId.get(r.user_id), ...extra?.(r) };
    return rows.length === 1 && once ? { ...out, ...once } : out;
  });
}

/** the brand of a request's host (Services.brand) */
type BrandOf = (host: string | undefined, db?: DB) => Promise<{ branding_title: string }>;
const brandTitles = new WeakMap<FastifyRequest, string>();

/** what the device resources need of the server */
export interface DeviceApiEnv {
  installId: string;
  secretKey: string;
  brandOf: BrandOf;
  /** told of devices added through the admin API, renamed and deleted (CAEP credential changes) */
  signals: Signals;
}

/** a device's change as a credential change (CAEP): the class's credential type, the device's name and model */
const credentialChange = (k: DeviceClass, row: Row, changeType: CredentialChange['changeType']): CredentialChange => ({
  userId: Number(row.user_id),
  credentialType: k.credentialType ?? null,
  changeType,
  friendlyName: row.name,
  ...(typeof row.aaguid === 'string' && row.aaguid ? { fido2Aaguid: row.aaguid } : {}),
});

export function deviceResource(k: DeviceClass, admin: boolean, env: DeviceApiEnv): ResourceDef<Row> {
  const { installId, secretKey, brandOf } = env;
  const props = propsOf(k, admin);
  const confirmedOnly = !admin && !k.api.listUnconfirmed;
  return {
    component: k.model,
    model: k.model,
    path: admin ? `/authenticators/admin/${k.id}` : `/authenticators/${k.id}`,
    opPrefix: admin ? `authenticators_admin_${k.id}` : `authenticators_${k.id}`,
    tag: 'authenticators',
    lookup: { param: 'id', column: 'id', type: 'int' },
    props,
    ops: admin
      ? ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy']
      : ['list', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: admin ? { kind: 'superuser' } : { kind: 'owner', column: 'user_id' },
    // the admin lists by authentik's device permissions (view_totpdevice, …); a superuser's devices only by a superuser
    ...(admin ? { rbac: { label: `${k.app}.${k.model.toLowerCase()}`, verbose: k.verbose } } : {}),
    list: {
      filters: { name: { type: 'str', column: 'name' } },
      search: ['name'],
      ordering: { name: 'name', pk: 'id' },
      defaultOrdering: ['name'],
      pk: 'id',
    },
    select: (db) => {
      const q = db
        .selectFrom(k.table as 'totp_devices')
        .selectAll()
        .select('id as pk');
      return confirmedOnly ? q.where('confirmed', '=', 1) : q;
    },
    render: (db, rows, req) => render(db, k, installId, rows, req, props),
    validate: async (data, ctx, existing) => {
      if (admin) await guardTargetUser(ctx.db, ctx.caller, (existing?.user_id ?? data.user_pk ?? ctx.caller.user.id) as number);
      if (!existing && !k.api.create)
        throw ValidationError.nonField(k.api.createRefused ?? `${k.verbose}s are enrolled through an enrolment flow.`);
      // the request's brand titles what the new device shows (the TOTP issuer); looked up here, before the write's
      // transaction, or through the one a blueprint runs in (SQLite has one connection: a read outside the
      // transaction would wait for it)
      if (!existing) brandTitles.set(ctx.req, (await brandOf(ctx.req.host, ctx.db.isTransaction ? ctx.db : undefined)).branding_title);
    },
    insert: async (tx, data, ctx) => {
      const now = nowIso();
      const owner = (data.user_pk as number | undefined) ?? ctx.caller.user.id;
      const base = { user_id: owner, name: data.name as string, confirmed: 1, created: now, last_updated: now, last_used: null };
      const brandTitle = brandTitles.get(ctx.req) ?? '';
      const made = await k.api.create!(tx, data, { db: ctx.db, base, secretKey, brandTitle });
      shownOnce.set(ctx.req, made.shownOnce);
      return made.id;
    },
    update: async (tx, existing, data) => {
      if (data.name !== undefined)
        await tx
          .updateTable(k.table as 'totp_devices')
          .set({ name: data.name as string, last_updated: nowIso() })
          .where('id', '=', existing.id)
          .execute();
      return existing.id;
    },
    remove: async (tx, existing, ctx) => {
      // (through the transaction: with SQLite a read outside it would wait for it)
      if (admin) await guardTargetUser(tx, ctx.caller, existing.user_id);
      await tx
        .deleteFrom(k.table as 'totp_devices')
        .where('id', '=', existing.id)
        .execute();
    },
    async afterWrite(key, ctx) {
      const row = await ctx.db
        .selectFrom(k.table as 'totp_devices')
        .selectAll()
        .where('id', '=', Number(key))
        .executeTakeFirst();
      if (row?.confirmed)
        await env.signals.credentialChanged(credentialChange(k, row as never, ctx.mode === 'create' ? 'create' : 'update'));
    },
    async afterRemove(existing) {
      if (existing.confirmed) await env.signals.credentialChanged(credentialChange(k, existing, 'delete'));
    },
    usedBy: async () => [],
  };
}

export function mountDeviceResources(router: ApiRouter, db: DB, env: DeviceApiEnv) {
  for (const k of deviceClassesByApp) {
    mountResource(router, db, deviceResource(k, false, env));
    mountResource(router, db, deviceResource(k, true, env));
  }
}
