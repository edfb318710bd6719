/**
 * /core/applications/: authentik's ApplicationViewSet. Applications are policy-binding targets (their pk is their
 * pbm_uuid): `check_access` asks the policy engine, and the list shows a caller the applications their policies let
 * them use (a superuser sees all with `superuser_full_list=true`). Deleting an application deletes its policy
 * bindings and the consents given to it; its provider stays, unassigned.
 */
import { assetUrl, themedAssetUrls } from '../files/names.js';
import { newPk } from '../rest/requested-pk.js';
import type { ColumnReference } from '../rest/references.js';
import { systemSettings } from '../instance/system-settings/store.js';
import type { FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { mountResource, type ResourceDef, type Tx } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { nowIso, rowToApi } from '../rest/serialize.js';
import { paginate, parseBool, type ListSpec, type Query } from '../rest/list.js';
import { requireCaller } from '../rest/auth.js';
import { NotFound, ValidationError } from '../rest/errors.js';
import { can } from '../rbac/check.js';
import type { DB } from '../db/index.js';
import type { UsersTable } from '../db/types.js';
import type { Services } from '../services.js';
import type { PolicyVerdict } from '../policies/engine/engine.js';
import { httpOf } from '../policies/request.js';
import { deleteBindingsOf } from '../policies/targets.js';
import { entitlementTargetsOf } from './entitlements.js';
import { targetUsedBy } from '../policies/base.js';
import { renderProviders } from '../providers/base.js';
import { providerTypeByKind } from '../providers/registry.js';
import { userById } from '../users/by-id.js';
import type { ApplicationsTable } from './table.js';
import { APPLICATION_COLUMNS, applicationProps } from './schema.js';
import { formatLaunchUrl, providerLaunchUrls } from './launch.js';
import { applicationPolicyObject } from './policy-object.js';
import { lastValue } from '../rest/routes.js';

type Row = ApplicationsTable & { pk: string };

const str = (q: Query, k: string) => lastValue(q[k]);

/** the application's icon, which may name an uploaded file (the files' `used_by`, src/files/) */
export const applicationFileReferences = (): ColumnReference[] => [
  {
    table: 'applications',
    column: 'meta_icon',
    pk: 'pbm_uuid',
    name: 'name',
    app: 'authentik_core',
    model_name: 'application',
    action: 'left_dangling',
  },
];

export const applicationList: ListSpec = {
  filters: {
    name: { type: 'str', column: 'name' },
    slug: { type: 'str', column: 'slug' },
    meta_launch_url: { type: 'str', column: 'meta_launch_url' },
    meta_description: { type: 'str', column: 'meta_description' },
    meta_publisher: { type: 'str', column: 'meta_publisher' },
    group: { type: 'str', column: 'group' },
  },
  search: ['name', 'slug', 'meta_launch_url', 'meta_description', 'meta_publisher', 'group'],
  ordering: { name: 'name', slug: 'slug', group: 'group', pk: 'pbm_uuid' },
  defaultOrdering: ['name'],
  pk: 'pbm_uuid',
  unique: ['slug'],
};

/** applications as the API shows them, for `user` (launch URLs are formatted with their fields) */
export async function renderApplications(db: DB, rows: Row[], user: UsersTable | undefined): Promise<Record<string, unknown>[]> {
  const pbms = rows.map((r) => r.pbm_uuid);
  const back = pbms.length
    ? await db
        .selectFrom('application_backchannel_providers')
        .select(['application', 'provider_id'])
        .where('application', 'in', pbms)
        .orderBy('provider_id')
        .execute()
    : [];
  const providerIds = [...new Set([...rows.map((r) => r.provider), ...back.map((b) => b.provider_id)].filter((p) => p !== null))].map(
    Number,
  );
  const providerRows = providerIds.length
    ? await db
        .selectFrom('providers')
        .select(['id', 'name', 'kind', 'authentication_flow', 'authorization_flow', 'invalidation_flow'])
        .where('id', 'in', providerIds)
        .execute()
    : [];
  const providers = new Map((await renderProviders(db, providerRows, providerTypeByKind)).map((p) => [Number(p.pk), p]));
  const launch = await providerLaunchUrls(
    db,
    rows
      .map((r) => r.provider)
      .filter((p): p is number => p !== null)
      .map(Number),
  );
  return rows.map((r) => {
    const o = rowToApi(applicationProps, r);
    o.pk = r.pbm_uuid;
    o.pbm_uuid = r.pbm_uuid;
    const pid = r.provider === null ? null : Number(r.provider);
    o.provider = pid;
    o.provider_obj = pid === null ? null : (providers.get(pid) ?? null);
    const mine = back.filter((b) => b.application === r.pbm_uuid).map((b) => Number(b.provider_id));
    o.backchannel_providers = mine;
    o.backchannel_providers_obj = mine.map((id) => providers.get(id)).filter(Boolean);
    const url = r.meta_launch_url || (pid === null ? null : (launch.get(pid) ?? null));
    o.launch_url = url ? formatLaunchUrl(url, user) : null;
    // (an uploaded file's name as its URL, src/files/)
    o.meta_icon_url = r.meta_icon ? assetUrl(r.meta_icon) : null;
    o.meta_icon_themed_urls = r.meta_icon ? themedAssetUrls(r.meta_icon) : null;
    // authentik's field order
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(applicationProps)) if (!applicationProps[k]!.writeOnly) out[k] = o[k];
    return out;
  });
}

async function setBackchannel(tx: Tx, app: string, ids: number[]) {
  await tx.deleteFrom('application_backchannel_providers').where('application', '=', app).execute();
  const unique = [...new Set(ids)];
  if (!unique.length) return;
  // a provider serves one application as a backchannel provider: taking it moves it here
  await tx.deleteFrom('application_backchannel_providers').where('provider_id', 'in', unique).execute();
  await tx
    .insertInto('application_backchannel_providers')
    .values(unique.map((provider_id) => ({ provider_id, application: app })))
    .execute();
}

function columns(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of APPLICATION_COLUMNS) {
    const v = data[c];
    if (v === undefined) continue;
    out[c] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
  }
  return out;
}

/**
 * slugs an application cannot take: the OAuth2 endpoints share their path with the applications' own
 * (/application/o/<slug>/…; authentik's Application.reserved_slugs)
 */
const RESERVED_SLUGS = new Set(['authorize', 'token', 'device', 'userinfo', 'introspect', 'revoke']);

export const applicationResource: ResourceDef<Row> = {
  component: 'Application',
  model: 'Application',
  path: '/core/applications',
  opPrefix: 'core_applications',
  tag: 'core',
  lookup: { param: 'slug', column: 'slug', type: 'slug' },
  props: applicationProps,
  ops: ['create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_core.application', verbose: 'Application', pk: { column: 'pbm_uuid', rowKey: 'pbm_uuid' } },
  list: applicationList,
  select: (db) => db.selectFrom('applications').selectAll().select('pbm_uuid as pk'),
  render: (db, rows, req) => renderApplications(db, rows, req.caller?.user),
  async validate(data) {
    if (typeof data.slug === 'string' && RESERVED_SLUGS.has(data.slug))
      throw new ValidationError({ slug: [`The slug '${data.slug}' is reserved and cannot be used for applications.`] });
  },
  insert: async (tx, data) => {
    const pbm_uuid = newPk();
    const now = nowIso();
    await tx
      .insertInto('applications')
      .values({
        pbm_uuid,
        ...(columns(data) as object),
        created: now,
        last_updated: now,
      } as never)
      .execute();
    await setBackchannel(tx, pbm_uuid, (data.backchannel_providers as number[] | undefined) ?? []);
    return data.slug as string;
  },
  update: async (tx, existing, data) => {
    await tx
      .updateTable('applications')
      .set({ ...columns(data), last_updated: nowIso() } as never)
      .where('pbm_uuid', '=', existing.pbm_uuid)
      .execute();
    if (data.backchannel_providers !== undefined) await setBackchannel(tx, existing.pbm_uuid, data.backchannel_providers as number[]);
    return (data.slug as string | undefined) ?? existing.slug;
  },
  remove: async (tx, existing) => {
    // its entitlements and access-request rule bindings go with it (by cascade), their policy bindings first; access
    // requests name it no more (authentik's GrantRequestTarget cascades)
    const entitlements = await entitlementTargetsOf(tx, existing.pbm_uuid);
    const ruleBindings = await tx.selectFrom('request_rule_bindings').select('pbm_uuid').where('target', '=', existing.pbm_uuid).execute();
    await deleteBindingsOf(tx, [existing.pbm_uuid, ...entitlements, ...ruleBindings.map((b) => b.pbm_uuid)]);
    await tx
      .deleteFrom('grant_request_targets')
      .where('target', 'in', [existing.pbm_uuid, ...entitlements])
      .execute();
    await tx.deleteFrom('applications').where('pbm_uuid', '=', existing.pbm_uuid).execute();
  },
  usedBy: async (db, row) => [
    ...(await targetUsedBy(db, row.pbm_uuid, row.name)),
    ...(await db.selectFrom('user_consents').select(['id', 'user']).where('application', '=', row.pbm_uuid).orderBy('id').execute()).map(
      (c) => ({
        app: 'authentik_stages_consent',
        model_name: 'userconsent',
        pk: String(c.id),
        name: `User Consent ${row.pbm_uuid} by ${c.user}`,
        action: 'cascade' as const,
      }),
    ),
  ],
};

/**
 * the policy verdict for a user on an application (authentik's PolicyEngine(application, user, request)); an
 * application without bindings lets everyone in unless the system settings' flag `core_default_app_access` is off
 */
export async function applicationAccess(svc: Services, app: Row, user: UsersTable, req?: FastifyRequest): Promise<PolicyVerdict> {
  return svc.policies.check({
    emptyResult: (await systemSettings(svc.db)).flags.core_default_app_access,
    target: app.pbm_uuid,
    mode: app.policy_engine_mode === 'all' ? 'all' : 'any',
    request: {
      user,
      ...(req ? { http: httpOf(req) } : {}),
      obj: applicationPolicyObject(app),
      context: {},
      debug: false,
    },
  });
}

export function mountApplications(router: ApiRouter, svc: Services) {
  const db = svc.db;
  mountResource(router, db, {
    ...applicationResource,
    ops: ['list', ...applicationResource.ops],
    extraQuery: [
      { name: 'for_user', schema: { type: 'integer' } },
      { name: 'only_with_launch_url', schema: { type: 'boolean' } },
      { name: 'superuser_full_list', schema: { type: 'boolean' } },
    ],
    listHandler: (req) => listApplications(svc, req),
  });
  router.route(
    '/core/applications/{slug}/check_access',
    {
      get: {
        doc: {
          operationId: 'core_applications_check_access_retrieve',
          tag: 'core',
          query: [{ name: 'for_user', schema: { type: 'integer' } }],
          response: 'PolicyTestResult',
        },
        handler: async (req) => {
          // anyone logged in asks about themselves, without view_application (authentik's get_object_or_404 by slug)
          const caller = requireCaller(req);
          const { slug } = req.params as { slug: string };
          const row = (await db
            .selectFrom('applications')
            .selectAll()
            .select('pbm_uuid as pk')
            .where('slug', '=', slug)
            .executeTakeFirst()) as Row | undefined;
          if (!row) throw NotFound.model('Application');
          let user = caller.user;
          const forUser = str(req.query as Query, 'for_user');
          if (forUser !== undefined && caller.superuser) {
            if (!/^\s*-?\d+\s*$/.test(forUser)) throw ValidationError.bare('for_user', 'for_user must be numerical');
            const id = Number(forUser);
            const u = await userById(db, id);
            if (!u) throw ValidationError.bare('for_user', 'User not found');
            user = u;
          }
          const v = await applicationAccess(svc, row, user, req);
          if (!caller.superuser) return { passing: v.passing, messages: [], log_messages: [] };
          return { passing: v.passing, messages: v.messages, log_messages: v.bindings.flatMap((b) => b.log) };
        },
      },
    },
    [{ name: 'slug', schema: { type: 'string' } }],
  );
}

/**
 * authentik's ApplicationViewSet.list: every application for a superuser's `superuser_full_list`; otherwise the
 * applications the caller (a superuser may name `for_user`) may access, `only_with_launch_url` those with a launch
 * URL. (authentik pages first and drops the others from the page, so its count is of all applications; here the
 * count is of those listed.)
 */
async function listApplications(svc: Services, req: FastifyRequest) {
  const db = svc.db;
  const caller = requireCaller(req);
  const q = req.query as Query;
  const full = parseBool(str(q, 'superuser_full_list') ?? 'false') === true;
  const base = db.selectFrom('applications').selectAll().select('pbm_uuid as pk');
  if (full && caller.superuser)
    return paginate(db, base, applicationList, q, (rows: Row[]) => renderApplications(db, rows, caller.user), caller);
  let user = caller.user;
  const forUser = str(q, 'for_user');
  // authentik: a user the caller holds view_user_applications on (for every user, or that one)
  if (forUser !== undefined) {
    if (!/^\s*\d+\s*$/.test(forUser)) throw ValidationError.bare('for_user', 'for_user must be numerical');
    const u = await userById(db, Number(forUser));
    if (!u || !(await can(db, caller, 'authentik_core.view_user_applications', u.id)))
      throw ValidationError.bare('for_user', 'User not found');
    user = u;
  }
  const onlyLaunch = parseBool(str(q, 'only_with_launch_url') ?? 'false') === true;
  const apps = (await db.selectFrom('applications').selectAll().select('pbm_uuid as pk').execute()) as Row[];
  const launch = onlyLaunch
    ? await providerLaunchUrls(
        db,
        apps
          .map((a) => a.provider)
          .filter((p): p is number => p !== null)
          .map(Number),
      )
    : undefined;
  const allowed: string[] = [];
  for (const a of apps) {
    if (launch && !(a.meta_launch_url || (a.provider !== null && launch.get(Number(a.provider))))) continue;
    if ((await applicationAccess(svc, a, user, req)).passing) allowed.push(a.pbm_uuid);
  }
  const listed = allowed.length ? base.where('pbm_uuid', 'in', allowed) : base.where(sql<boolean>`1 = 0`);
  return paginate(db, listed, applicationList, q, (rows: Row[]) => renderApplications(db, rows, user), caller);
}
