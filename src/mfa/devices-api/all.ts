/** /authenticators/all/ (the caller's confirmed devices) and /authenticators/admin/all/ (any user's): `Device` objects. */
import type { ApiRouter } from '../../rest/routes.js';
import { requireCaller, type Caller } from '../../rest/auth.js';
import { hasGlobal, objectsWith } from '../../rbac/check.js';
import { drfDate } from '../../rest/serialize.js';
import { Forbidden, ValidationError } from '../../rest/errors.js';
import type { DB } from '../../db/index.js';
import { deviceClassesByApp } from '../registry.js';

/**
 * the devices of every class (of one user, or all); `viewer`: only those the caller may view, class by class
 * (authentik's AdminDeviceViewSet: `view_<device>` for the class, or on the device)
 */
async function devicesOf(db: DB, userId: number | undefined, confirmedOnly: boolean, viewer?: Caller) {
  const out: Record<string, unknown>[] = [];
  for (const k of deviceClassesByApp) {
    const perm = `${k.app}.view_${k.model.toLowerCase()}`;
    const ids = viewer && !(await hasGlobal(db, viewer, perm)) ? await objectsWith(db, viewer, perm) : undefined;
    if (ids && !ids.size) continue;
    const describe = k.api.describe ? await k.api.describe(db) : undefined;
    let q = db.selectFrom(k.table as 'totp_devices').selectAll();
    if (ids) q = q.where('id', 'in', [...ids].map(Number));
    if (userId !== undefined) q = q.where('user_id', '=', userId);
    if (confirmedOnly) q = q.where('confirmed', '=', 1);
    for (const r of await q.orderBy('id').execute()) {
      out.push({
        verbose_name: k.verbose,
        verbose_name_plural: `${k.verbose}s`,
        meta_model_name: `${k.app}.${k.model.toLowerCase()}`,
        pk: String(r.id),
        name: r.name,
        type: `${k.app}.${k.model}`,
        confirmed: !!r.confirmed,
        created: drfDate(r.created),
        last_updated: drfDate(r.last_updated),
        last_used: drfDate(r.last_used),
        ...(describe ? describe(r) : { extra_description: null, external_id: null }),
      });
    }
  }
  return out;
}

async function viewsAnyDevice(db: DB, caller: Caller): Promise<boolean> {
  for (const k of deviceClassesByApp) {
    const perm = `${k.app}.view_${k.model.toLowerCase()}`;
    if ((await hasGlobal(db, caller, perm)) || (await objectsWith(db, caller, perm)).size) return true;
  }
  return false;
}

export function mountAllDevices(router: ApiRouter, db: DB) {
  const array = { type: 'array', items: { $ref: '#/components/schemas/Device' } };
  router.route('/authenticators/all', {
    get: {
      doc: { operationId: 'authenticators_all_list', tag: 'authenticators', response: array },
      handler: async (req) => devicesOf(db, requireCaller(req).user.id, true),
    },
  });
  router.route('/authenticators/admin/all', {
    get: {
      doc: {
        operationId: 'authenticators_admin_all_list',
        tag: 'authenticators',
        query: [{ name: 'user', schema: { type: 'integer' } }],
        response: array,
      },
      handler: async (req) => {
        const caller = requireCaller(req);
        // someone who may view no device of any class learns nothing here, not even whether a user exists
        if (!caller.superuser && !(await viewsAnyDevice(db, caller))) throw Forbidden.permission();
        const raw = (req.query as Record<string, string | undefined>).user;
        if (raw === undefined || raw === '') return devicesOf(db, undefined, false, caller);
        const id = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
        const exists = Number.isFinite(id) && (await db.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst());
        if (!exists) throw ValidationError.field('user', `Invalid pk "${raw}" - object does not exist.`);
        return devicesOf(db, id, false, caller);
      },
    },
  });
}
