/**
 * authentik's admin lists: `/admin/apps/` (the apps an event matcher policy may name, labelled as authentik's app
 * configs name themselves), `/admin/models/` (the models Keystage has, from the permission catalogue: `app.model` and
 * the verbose name; `filter_has_attributes` true keeps those with an `attributes` field, false the others) and `/admin/version/history/`
 * (each version a node started, recorded at start by `recordVersion`).
 */
import { sql } from 'kysely';
import type { DB } from '../db/index.js';
import { APP_ENUM } from '../events/enums.js';
import { appVerbose, modelInfo, modelLabels, registerModel } from '../rbac/catalogue.js';
import { hasGlobal } from '../rbac/check.js';
import { requireCaller } from '../rest/auth.js';
import { Forbidden, NotFound } from '../rest/errors.js';
import type { ApiRouter } from '../rest/routes.js';
import { VERSION } from '../version.js';

declare module '../db/types.js' {
  interface Database {
    version_history: { id: number; timestamp: string; version: string; build: string };
  }
}

registerModel({ label: 'authentik_admin.versionhistory', verbose: 'Version history' });

/** the models with an `attributes` field (authentik's AttributesMixin) */
const WITH_ATTRIBUTES = new Set([
  'authentik_core.user',
  'authentik_core.group',
  'authentik_core.applicationentitlement',
  'authentik_brands.brand',
  'authentik_rbac.role',
]);

/** at start: a row for this version unless it is the last one recorded (several nodes starting together may each add one) */
export async function recordVersion(db: DB, build = ''): Promise<void> {
  const last = await db.selectFrom('version_history').select(['version', 'build']).orderBy('id', 'desc').limit(1).executeTakeFirst();
  if (last && last.version === VERSION && last.build === build) return;
  await db
    .insertInto('version_history')
    .values({ timestamp: new Date().toISOString(), version: VERSION, build } as never)
    .execute();
}

const row = (r: { id: number; timestamp: string; version: string; build: string }) => ({
  id: Number(r.id),
  timestamp: new Date(r.timestamp).toISOString(),
  version: r.version,
  build: r.build,
});

export function mountAdminCatalogue(router: ApiRouter, db: DB) {
  router.route('/admin/apps', {
    get: {
      doc: { operationId: 'admin_apps_list', tag: 'admin', response: { type: 'array', items: { $ref: '#/components/schemas/App' } } },
      handler: async (req) => {
        requireCaller(req);
        return APP_ENUM.map((name) => ({ name, label: appVerbose(name.replace(/\./g, '_')) }));
      },
    },
  });
  router.route('/admin/models', {
    get: {
      doc: {
        operationId: 'admin_models_list',
        tag: 'admin',
        query: [{ name: 'filter_has_attributes', schema: { type: 'boolean', nullable: true } }],
        response: { type: 'array', items: { $ref: '#/components/schemas/App' } },
      },
      handler: async (req) => {
        requireCaller(req);
        // a nullable boolean: true keeps the models with attributes, false those without, absent all
        const raw = (req.query as Record<string, string | undefined>).filter_has_attributes;
        const want = raw === 'true' ? true : raw === 'false' ? false : undefined;
        return modelLabels()
          .filter((label) => !modelInfo(label)?.noDefaults && (want === undefined || WITH_ATTRIBUTES.has(label) === want))
          .map((label) => ({ name: label, label: modelInfo(label)!.verbose }));
      },
    },
  });
  router.component('App', {
    type: 'object',
    description: 'Serialize Application info',
    properties: { name: { type: 'string' }, label: { type: 'string' } },
    required: ['label', 'name'],
  });

  // read by superusers (authentik's admin-only viewset)
  const admin = async (req: import('fastify').FastifyRequest) => {
    const caller = requireCaller(req);
    if (!caller.superuser && !(await hasGlobal(db, caller, 'authentik_admin.view_versionhistory'))) throw Forbidden.permission();
  };
  router.route('/admin/version/history', {
    get: {
      doc: {
        operationId: 'admin_version_history_list',
        tag: 'admin',
        query: [
          { name: 'build', schema: { type: 'string' } },
          { name: 'ordering', schema: { type: 'string' } },
          { name: 'search', schema: { type: 'string' } },
          { name: 'version', schema: { type: 'string' } },
        ],
        response: { type: 'array', items: { $ref: '#/components/schemas/VersionHistory' } },
      },
      handler: async (req) => {
        await admin(req);
        const q = req.query as Record<string, string | undefined>;
        let s = db.selectFrom('version_history').selectAll();
        if (q.build) s = s.where('build', '=', q.build);
        if (q.version) s = s.where('version', '=', q.version);
        if (q.search) s = s.where((eb) => eb.or([eb('version', 'like', `%${q.search}%`), eb('build', 'like', `%${q.search}%`)]));
        const field = (q.ordering ?? '-timestamp').replace(/^-/, '');
        const column = ['id', 'timestamp', 'version', 'build'].includes(field) ? field : 'timestamp';
        const desc = (q.ordering ?? '-timestamp').startsWith('-');
        const rows = await s
          .orderBy(sql.ref(column), desc ? 'desc' : 'asc')
          .orderBy('id', desc ? 'desc' : 'asc')
          .execute();
        return rows.map(row);
      },
    },
  });
  router.route(
    '/admin/version/history/{id}',
    {
      get: {
        doc: { operationId: 'admin_version_history_retrieve', tag: 'admin', response: 'VersionHistory' },
        handler: async (req) => {
          await admin(req);
          const id = Number((req.params as { id: string }).id);
          const r = Number.isInteger(id)
            ? await db.selectFrom('version_history').selectAll().where('id', '=', id).executeTakeFirst()
            : undefined;
          if (!r) throw NotFound.model('Version history');
          return row(r);
        },
      },
    },
    [{ name: 'id', schema: { type: 'integer' } }],
  );
  router.component('VersionHistory', {
    type: 'object',
    description: 'VersionHistory Serializer',
    properties: {
      id: { type: 'integer', readOnly: true },
      timestamp: { type: 'string', format: 'date-time' },
      version: { type: 'string' },
      build: { type: 'string' },
    },
    required: ['build', 'id', 'timestamp', 'version'],
  });
}
