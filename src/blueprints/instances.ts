/**
 * /managed/blueprints/: authentik's BlueprintInstanceViewSet — blueprints kept by Keystage (their YAML in
 * `content`), checked when saved (applied in a transaction that is rolled back: "Failed to validate blueprint"),
 * applied by `apply/` with the caller's permissions, each application recording its outcome (`status`,
 * `last_applied`, `last_applied_hash`, `managed_models`, `metadata`). An instance that is not `enabled` is not
 * applied. An instance's `path` names a file of the blueprints folder (src/blueprints/files.ts, listed by
 * `available/`), read each time it is applied, with `!Env` and `!File`; discovery (./discovery.ts) makes and applies
 * the folder's instances by itself.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { mountResource, type ResourceDef } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import { apiToRow, rowToApi } from '../rest/serialize.js';
import { ValidationError } from '../rest/errors.js';
import type { Caller } from '../rest/auth.js';
import { requirePermission } from '../rbac/check.js';
import type { Services } from '../services.js';
import type { Tx } from '../rest/resource.js';
import { BlueprintInvalid, parseBlueprint } from './blueprint.js';
import { BlueprintRetrievalFailed, findBlueprintFiles, hashOf } from './files.js';
import { applyBlueprint, type ImportResult } from './importer.js';
import { findInstance, OCI, retrieve, serverReads } from './retrieve.js';
import { metaModels } from './meta.js';
import { auditImport } from './routes.js';
import { type BlueprintInstancesTable, newInstanceRow } from './table.js';

const STATUSES = ['successful', 'warning', 'error', 'orphaned', 'unknown'] as const;

export const instanceProps = {
  pk: S.ro(S.uuid({ title: 'Instance uuid' })),
  name: S.str({
    'x-unique': {
      table: 'blueprint_instances',
      column: 'name',
      self: 'instance_uuid',
      message: 'blueprint instance with this name already exists.',
    },
  }),
  path: S.text({ default: '' }),
  context: S.obj({ default: {} }),
  last_applied: S.ro(S.datetime()),
  last_applied_hash: S.ro(S.text()),
  status: S.ro(Type.Unsafe<string>({ type: 'string', enum: [...STATUSES] })),
  enabled: S.bool({ default: true }),
  managed_models: S.ro(S.list(Type.String())),
  metadata: S.ro(S.obj()),
  content: S.text({ default: '' }),
};

type Row = BlueprintInstancesTable;

const importerLog = (event: string) => ({
  timestamp: new Date().toISOString(),
  log_level: 'warning' as const,
  logger: 'authentik.blueprints.v1.importer',
  event,
  attributes: {},
});

/** applies a blueprint's text as `caller`; `dryRun` rolls it back whatever happens */
async function run(
  router: ApiRouter,
  svc: Services,
  req: FastifyRequest,
  caller: Caller,
  content: string,
  context: Record<string, unknown>,
  more: Pick<Parameters<typeof applyBlueprint>[3], 'dryRun' | 'guard' | 'serverReads' | 'instance'> & {
    /** called when every entry applied, in the transaction, with the blueprint's metadata */
    record?: (tx: Tx, written: ImportResult['written'], metadata: Record<string, unknown>) => Promise<void>;
  },
) {
  let result: ImportResult & { skipped?: boolean };
  try {
    const blueprint = await parseBlueprint(content);
    const { record, ...rest } = more;
    result = await applyBlueprint(router.models, svc.db, blueprint, {
      caller,
      req,
      context,
      findInstance: findInstance(svc),
      metaModels: metaModels(svc),
      ...rest,
      ...(record ? { record: (tx, written) => record(tx, written, blueprint.metadata ?? {}) } : {}),
    });
  } catch (e) {
    if (!(e instanceof BlueprintInvalid)) throw e;
    result = { success: false, logs: [importerLog(`Invalid blueprint: ${e.message}`)], written: [] };
  }
  return result;
}

/**
 * applies an enabled instance and records the outcome on it. `ifChanged`: only when its text's hash is not the one
 * last applied — checked again inside the import's transaction, after its lock, and recorded before it commits, so of
 * nodes applying one file at once, one applies it and the others find it applied
 */
export async function applyInstance(
  router: ApiRouter,
  svc: Services,
  req: FastifyRequest,
  caller: Caller,
  row: Row,
  ifChanged = false,
): Promise<(ImportResult & { skipped?: boolean }) | undefined> {
  if (!row.enabled) return undefined;
  const now = () => new Date().toISOString();
  const recordOn = (d: typeof svc.db, values: Partial<Row>) =>
    d.updateTable('blueprint_instances').set(values).where('instance_uuid', '=', row.instance_uuid).execute();
  let content: string;
  try {
    content = await retrieve(svc, row);
  } catch (e) {
    if (!(e instanceof BlueprintRetrievalFailed)) throw e;
    await recordOn(svc.db, { status: 'error', last_applied: now(), last_updated: now() });
    return { success: false, logs: [importerLog(`Failed to retrieve blueprint: ${e.message}`)], written: [] };
  }
  const hash = hashOf(content);
  const result = await run(router, svc, req, caller, content, JSON.parse(row.context || '{}'), {
    ...(row.path !== '' ? { serverReads } : {}),
    instance: row.instance_uuid,
    ...(ifChanged
      ? {
          guard: async (tx: Tx) => {
            const fresh = await tx
              .selectFrom('blueprint_instances')
              .select(['last_applied_hash', 'enabled'])
              .where('instance_uuid', '=', row.instance_uuid)
              .executeTakeFirst();
            return !!fresh?.enabled && fresh.last_applied_hash !== hash;
          },
        }
      : {}),
    record: async (tx, written, metadata) => {
      await recordOn(tx as typeof svc.db, {
        status: 'successful',
        last_applied: now(),
        last_updated: now(),
        last_applied_hash: hash,
        managed_models: JSON.stringify([...new Set(written.map((w) => w.model.label))].sort()),
        metadata: JSON.stringify(metadata),
      });
    },
  });
  if (result.skipped) return result;
  if (!result.success) await recordOn(svc.db, { status: 'error', last_applied: now(), last_updated: now() });
  await auditImport(req, result);
  return result;
}

export function mountBlueprintInstances(router: ApiRouter, svc: Services) {
  const { db } = svc;
  const def: ResourceDef<Row> = {
    component: 'BlueprintInstance',
    model: 'Blueprint Instance',
    path: '/managed/blueprints',
    opPrefix: 'managed_blueprints',
    tag: 'managed',
    lookup: { param: 'instance_uuid', column: 'instance_uuid', type: 'uuid' },
    props: instanceProps,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_blueprints.blueprintinstance', verbose: 'Blueprint Instance' },
    // (saving one applies its content in a transaction of its own: not inside another blueprint's)
    inBlueprints: false,
    list: {
      filters: { name: { type: 'str', column: 'name' }, path: { type: 'str', column: 'path' } },
      search: ['name', 'path'],
      ordering: { name: 'name', path: 'path', pk: 'instance_uuid' },
      defaultOrdering: ['name'],
      pk: 'instance_uuid',
    },
    select: (d) => d.selectFrom('blueprint_instances').selectAll(),
    render: async (_db, rows) => rows.map((r) => ({ ...rowToApi(instanceProps, r), pk: r.instance_uuid })),
    validate: async (data, ctx, existing) => {
      if (typeof data.path === 'string' && data.path !== '') {
        if (data.path.startsWith(OCI)) throw ValidationError.field('path', 'OCI blueprints are not supported by Keystage');
        const files = await findBlueprintFiles(svc.config.blueprintsDir);
        if (!files.some((f) => f.path === data.path)) throw ValidationError.field('path', 'Blueprint file does not exist');
      }
      const path = (data.path as string | undefined) ?? existing?.path ?? '';
      const content = (data.content as string | undefined) ?? existing?.content ?? '';
      if (path === '' && content === '') throw ValidationError.nonField('Either path or content must be set.');
      if (data.content === undefined || data.content === '') return;
      const context = (data.context as Record<string, unknown> | undefined) ?? (existing ? JSON.parse(existing.context || '{}') : {});
      const result = await run(router, svc, ctx.req, ctx.caller, content, context, { dryRun: true });
      if (!result.success)
        throw new ValidationError({ content: ['Failed to validate blueprint', ...result.logs.map((l) => `- ${l.event}`)] });
    },
    insert: async (tx, data) => {
      const row = newInstanceRow(apiToRow(instanceProps, data) as Parameters<typeof newInstanceRow>[0]);
      await tx.insertInto('blueprint_instances').values(row).execute();
      return row.instance_uuid;
    },
    update: async (tx, existing, data) => {
      const values = apiToRow(instanceProps, data);
      await tx
        .updateTable('blueprint_instances')
        .set({ ...values, last_updated: new Date().toISOString() } as never)
        .where('instance_uuid', '=', existing.instance_uuid)
        .execute();
      return existing.instance_uuid;
    },
    remove: async (tx, existing) => {
      await tx.deleteFrom('blueprint_instances').where('instance_uuid', '=', existing.instance_uuid).execute();
    },
    usedBy: async () => [],
  };
  const { load } = mountResource(router, db, def);
  const params = [{ name: 'instance_uuid', schema: { type: 'string', format: 'uuid' } }];

  router.route(
    '/managed/blueprints/{instance_uuid}/apply',
    {
      post: {
        doc: { operationId: 'managed_blueprints_apply_create', tag: 'managed', response: 'BlueprintInstance' },
        handler: async (req) => {
          // authentik asks only for view permission here; Keystage applies with the caller's own permissions
          const { row, caller } = await load(req, 'view');
          await applyInstance(router, svc, req, caller, row);
          const fresh = await db
            .selectFrom('blueprint_instances')
            .selectAll()
            .where('instance_uuid', '=', row.instance_uuid)
            .executeTakeFirstOrThrow();
          return (await def.render(db, [fresh], req))[0];
        },
      },
    },
    params,
  );
  router.component('Metadata', {
    type: 'object',
    description: 'Serializer for blueprint metadata',
    properties: { name: { type: 'string' }, labels: { type: 'object', additionalProperties: {} } },
    required: ['labels', 'name'],
  });
  router.component('BlueprintFile', {
    type: 'object',
    properties: {
      path: { type: 'string' },
      last_m: { type: 'string', format: 'date-time' },
      hash: { type: 'string' },
      meta: { allOf: [{ $ref: '#/components/schemas/Metadata' }], readOnly: true },
    },
    required: ['hash', 'last_m', 'meta', 'path'],
  });
  router.route('/managed/blueprints/available', {
    get: {
      doc: {
        operationId: 'managed_blueprints_available_list',
        tag: 'managed',
        response: { type: 'array', items: { $ref: '#/components/schemas/BlueprintFile' } },
      },
      handler: async (req) => {
        await requirePermission(db, req, 'authentik_blueprints.view_blueprintinstance');
        return findBlueprintFiles(svc.config.blueprintsDir);
      },
    },
  });
}
