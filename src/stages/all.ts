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
  mountResource(router, db, allStagesResource);
}
