/** /authenticators/all/ (the caller's confirmed devices) and /authenticators/admin/all/ (any user's): `Device` objects. */
import type { ApiRouter } from '../../api/routes.js';
import { requireCaller, requireSuperuser } from '../../api/auth.js';
import { drfDate } from '../../api/serialize.js';
import { ValidationError } from '../../api/errors.js';
import type { DB } from '../../db/index.js';
import { DEVICE_CLASSES } from './classes.js';

async function devicesOf(db: DB, userId: number | undefined, confirmedOnly: boolean) {
  const types = new Map((await db.selectFrom('webauthn_device_types').select(['aaguid', 'description']).execute()).map((t) => [t.aaguid, t.description]));
  const out: Record<string, unknown>[] = [];
  for (const [cls, d] of Object.entries(DEVICE_CLASSES)) {
    let q = db.selectFrom(d.table as 'webauthn_devices').selectAll();
    if (userId !== undefined) q = q.where('user_id', '=', userId);
    if (confirmedOnly) q = q.where('confirmed', '=', 1);
    for (const r of await q.orderBy('id').execute()) {
      const wa = cls === 'webauthn';
      out.push({
        verbose_name: d.verbose,
        verbose_name_plural: `${d.verbose}s`,
        meta_model_name: `${d.app}.${d.model.toLowerCase()}`,
        pk: String(r.id),
        name: r.name,
        type: `${d.app}.${d.model}`,
        confirmed: !!r.confirmed,
        created: drfDate(r.created),
        last_updated: drfDate(r.last_updated),
        last_used: drfDate(r.last_used),
        extra_description: wa ? (types.get(r.aaguid) ?? null) : null,
        external_id: wa ? r.aaguid : null,
      });
    }
  }
  return out;
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
      doc: { operationId: 'authenticators_admin_all_list', tag: 'authenticators', query: [{ name: 'user', schema: { type: 'integer' } }], response: array },
      handler: async (req) => {
        requireSuperuser(req);
        const raw = (req.query as Record<string, string | undefined>).user;
        if (raw === undefined || raw === '') return devicesOf(db, undefined, false);
        const id = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
        const exists = Number.isFinite(id) && (await db.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst());
        if (!exists) throw ValidationError.field('user', `Invalid pk "${raw}" - object does not exist.`);
        return devicesOf(db, id, false);
      },
    },
  });
}
