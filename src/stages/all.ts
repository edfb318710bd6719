/** /stages/all/: every stage as a base Stage object, whatever its type; and the list of creatable types. */
import { deleteStageBindingPolicies } from '../policies/targets.js';
import { mountResource, type ResourceDef } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { requireCaller } from '../rest/auth.js';
import type { DB } from '../db/index.js';
import type { StagesTable } from '../db/types.js';
import { baseStageProps, renderBaseStages, stageUsedBy } from './base.js';
import { stageTypeByKind, stageTypes } from './registry.js';
import { S } from '../rest/schema.js';

type Row = StagesTable & { pk: string };

const stageProps = { ...baseStageProps, name: S.ro(S.text()) };

export const allStagesResource: ResourceDef<Row> = {
  component: 'Stage',
  model: 'Stage',
  path: '/stages/all',
  opPrefix: 'stages_all',
  tag: 'stages',
  lookup: { param: 'stage_uuid', column: 'stage_uuid', type: 'uuid' },
  props: stageProps,
  ops: ['list', 'retrieve', 'destroy', 'used_by'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_flows.stage', verbose: 'Stage' },
  list: {
    filters: { name: { type: 'str', column: 'name' } },
    search: ['name'],
    ordering: { name: 'name', pk: 'stage_uuid' },
    defaultOrdering: [],
    pk: 'stage_uuid',
  },
  select: (db) => db.selectFrom('stages').selectAll().select('stage_uuid as pk'),
  render: (db, rows) => renderBaseStages(db, rows, stageTypeByKind),
  remove: async (tx, row) => {
    await deleteStageBindingPolicies(tx, row.stage_uuid);
    await tx.deleteFrom('stages').where('stage_uuid', '=', row.stage_uuid).execute();
  },
  usedBy: (db, row) => stageUsedBy(db, row, stageTypes),
};

export function mountAllStages(router: ApiRouter, db: DB) {
  // the static path must be registered before the parametric one shares its prefix (fastify prefers static anyway)
  router.route('/stages/all/types', {
    get: {
      doc: {
        operationId: 'stages_all_types_list',
        tag: 'stages',
        response: { type: 'array', items: { $ref: '#/components/schemas/TypeCreate' } },
      },
      handler: async (req) => {
        requireCaller(req);
        return stageTypes
          .filter((d) => d.listed !== false)
          .map((d) => ({
            name: d.verboseName,
            description: d.description,
            component: d.component,
            model_name: d.kind,
            requires_enterprise: false,
            deprecated: false,
          }))
          .sort((a, b) => a.name.localeCompare(b.name));
      },
    },
  });
  router.component('UserSetting', {
    type: 'object',
    description: 'Serializer for User settings for stages and sources',
    properties: {
      object_uid: { type: 'string' },
      component: { type: 'string' },
      title: { type: 'string' },
      configure_url: { type: 'string' },
      icon_url: { type: 'string' },
    },
    required: ['component', 'object_uid', 'title'],
  });
  router.route('/stages/all/user_settings', {
    get: {
      doc: {
        operationId: 'stages_all_user_settings_list',
        tag: 'stages',
        response: { type: 'array', items: { $ref: '#/components/schemas/UserSetting' } },
      },
      handler: async (req) => {
        requireCaller(req);
        return userSettings(db);
      },
    },
  });
  mountResource(router, db, allStagesResource);
}

/**
 * authentik's StageViewSet.user_settings: every stage whose type offers the user something (a setup stage, a password
 * stage with a configure flow), by type then name; `configure_url` starts the stage's configure flow
 */
async function userSettings(db: DB): Promise<Record<string, string>[]> {
  const out: Record<string, string>[] = [];
  for (const def of stageTypes) {
    if (!def.userSetting) continue;
    const rows = (await db
      .selectFrom('stages as s')
      .innerJoin(`${def.table} as t` as 'stages as t', 't.stage_uuid', 's.stage_uuid')
      .selectAll('t')
      .select(['s.stage_uuid', 's.name'])
      .orderBy('s.name')
      .execute()) as unknown as { stage_uuid: string; name: string; configure_flow: string | null; friendly_name?: string | null }[];
    for (const r of rows) {
      if (def.userSetting.needsConfigureFlow && !r.configure_flow) continue;
      out.push({
        title: r.friendly_name || def.verboseName,
        component: def.userSetting.component,
        object_uid: r.stage_uuid,
        ...(r.configure_flow ? { configure_url: `/flows/-/configure/${r.stage_uuid}/` } : {}),
      });
    }
  }
  return out;
}
