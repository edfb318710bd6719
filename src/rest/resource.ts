/**
 * A REST resource the authentik way: list (paginated), create, retrieve, update, partial update, destroy, used_by.
 * Each resource supplies its schema, list spec, row query, renderer and write steps; this module supplies the
 * conventions (status codes, lookups, 404/403 bodies, one transaction per write, re-read after write).
 */
import { auditDiff } from '../events/diff.js';
import { systemSettings } from '../instance/system-settings/store.js';
import type { FastifyRequest } from 'fastify';
import type { SelectQueryBuilder, Transaction } from 'kysely';
import { Type, type TSchema } from '@sinclair/typebox';
import type { DB } from '../db/index.js';
import type { Database } from '../db/types.js';
import { Forbidden, NotFound, ValidationError } from './errors.js';
import { paginate, type ListSpec, type Query } from './list.js';
import type { ApiRouter, QueryParam, RouteDef, Method } from './routes.js';
import { validateBody, checkReferences, isUuid, normalizeUuid, isRequired, type Mode } from './validate.js';
import { readableKeys, writableKeys, type Props } from './schema.js';
import { requireCaller, type Caller } from './auth.js';
import { lockConfigEpoch } from '../db/config-epoch.js';
import { registerModel } from '../rbac/catalogue.js';
import { can, hasGlobal, objectsWith } from '../rbac/check.js';
import { assignInitialPermissions, hasInitialPermissions } from '../rbac/initial.js';
import { removeObjectPermissions } from '../rbac/object-permissions.js';

export type Tx = Transaction<Database>;
type QB = SelectQueryBuilder<any, any, any>;

export interface UsedBy {
  app: string;
  model_name: string;
  pk: string;
  name: string;
  action: 'cascade' | 'cascade_many' | 'set_null' | 'set_default' | 'left_dangling';
}

export type Op = 'list' | 'create' | 'retrieve' | 'update' | 'partial_update' | 'destroy' | 'used_by';

export interface WriteCtx {
  db: DB;
  caller: Caller;
  mode: Mode;
  req: FastifyRequest;
  /** the object's fields as sent (the request's body; a blueprint entry's attributes) */
  body?: unknown;
}

export interface ResourceDef<Row extends object = Record<string, unknown>> {
  /** OpenAPI component name of the response object, e.g. `Flow` */
  component: string;
  /** model name in 404 bodies */
  model: string;
  path: string;
  opPrefix: string;
  tag: string;
  /** `column` is the SQL reference used in WHERE, `rowKey` the selected field holding it (default: column) */
  lookup: { param: string; column: string; rowKey?: string; type: 'uuid' | 'slug' | 'int' };
  props: Props;
  list: ListSpec;
  ops: Op[];
  /**
   * `superuser`: all operations need a superuser, or (with `rbac`) the model's permissions; `owner`: others see only
   * rows whose `column` is their user id (`strict`: superusers too); `authenticated`: any caller may read (a catalogue)
   */
  access: { kind: 'superuser' } | { kind: 'owner'; column: string; strict?: boolean } | { kind: 'authenticated' };
  /**
   * RBAC (with access `superuser`): the model (`app_label.model`, authentik's `meta_model_name`) whose permissions
   * open the resource to a caller who is not a superuser, as authentik's ObjectFilter and ObjectPermissions: `view`
   * (list, retrieve, used_by), `add` (create), `change` (update), `delete` (destroy), each held for the whole model
   * or for the object; `pk` is where the object's pk (as the API shows it) is, when not the lookup.
   */
  rbac?: {
    label: string;
    verbose: string;
    pk?: { column: string; rowKey: string; int?: boolean };
    /** the model's permissions beyond the four defaults (authentik's Meta.permissions): [codename, name] */
    extra?: readonly (readonly [string, string])[];
  };
  select(db: DB): QB;
  render(db: DB, rows: Row[], req: FastifyRequest): Promise<Record<string, unknown>[]>;
  /** object-level validation, after field validation */
  validate?(data: Record<string, unknown>, ctx: WriteCtx, existing?: Row): Promise<void>;
  /** inserts and returns the lookup value of the new object */
  insert?(tx: Tx, data: Record<string, unknown>, ctx: WriteCtx): Promise<string | number>;
  /** updates and returns the (possibly changed) lookup value */
  update?(tx: Tx, existing: Row, data: Record<string, unknown>, ctx: WriteCtx): Promise<string | number>;
  remove?(tx: Tx, existing: Row, ctx: WriteCtx): Promise<void>;
  /**
   * `remove` keeps the row as a record, changed (a user offboarding is cancelled, not deleted): the destroy is audited
   * as `model_updated` with the row as it now is, and permissions on it stay
   */
  removeKeepsRow?: true;
  /** after a create's or update's transaction committed (an LDAP source's sync, asked for on save) */
  afterWrite?(key: string | number, ctx: WriteCtx): Promise<void>;
  /**
   * before the removal's transaction: what must end while the object is still there to say what it was (a user's
   * sessions: their providers are told, which needs the user and the tokens the deletion takes along)
   */
  beforeRemove?(existing: Row, ctx: WriteCtx): Promise<void>;
  /** after the removal's transaction committed: what ends with the object outside the database (a session's tokens) */
  afterRemove?(existing: Row, ctx: WriteCtx): Promise<void>;
  usedBy?(db: DB, row: Row): Promise<UsedBy[]>;
  /** extra query parameters of the list for the OpenAPI document (filters are documented automatically) */
  extraQuery?: QueryParam[];
  /** the list's own handler, when the list is more than a filtered page of `select` (applications: policy checks) */
  listHandler?(req: FastifyRequest): Promise<unknown>;
  /** `false`: blueprints may not write it (authentik's "Model … not allowed"; a blueprint instance inside a blueprint) */
  inBlueprints?: false;
  /**
   * fields blueprints write besides the API's (authentik's serializers in blueprint context: a role's `permissions`):
   * taken out of the entry's attributes before the write, then applied to the object written, in its transaction;
   * answers warnings for the import's log (a refusal throws)
   */
  blueprintFields?: {
    names: readonly string[];
    apply(tx: Tx, key: string | number, values: Record<string, unknown>, ctx: { caller: Caller }): Promise<string[]>;
  };
  /** query parameters of retrieve, for the OpenAPI document */
  retrieveQuery?: QueryParam[];
}

const filterSchema: Record<string, Record<string, unknown>> = {
  str: { type: 'string' },
  int: { type: 'integer' },
  bool: { type: 'boolean' },
  isnull: { type: 'boolean' },
  uuid: { type: 'string', format: 'uuid' },
  fk: { type: 'string', format: 'uuid' },
  datetime: { type: 'string', format: 'date-time' },
};

export function listQueryParams(spec: ListSpec): QueryParam[] {
  const params: QueryParam[] = [
    { name: 'ordering', schema: { type: 'string' } },
    { name: 'page', schema: { type: 'integer' } },
    { name: 'page_size', schema: { type: 'integer' } },
    { name: 'search', schema: { type: 'string' } },
  ];
  for (const [name, f] of Object.entries(spec.filters)) {
    if (f.type === 'enum') params.push({ name, schema: { type: 'string', enum: [...f.values] } });
    else if (f.type === 'm2m') {
      const items = f.byName ? { type: 'string' } : f.ref.int ? { type: 'integer' } : { type: 'string', format: 'uuid' };
      params.push({ name, schema: { type: 'array', items }, explode: true });
    } else if (f.type === 'custom') params.push({ name, schema: f.schema ?? { type: 'string' }, ...(f.explode ? { explode: true } : {}) });
    else if (f.type === 'secret') params.push({ name, schema: { type: 'string' } });
    else params.push({ name, schema: filterSchema[f.type]! });
  }
  return params.sort((a, b) => a.name.localeCompare(b.name));
}

/** Response component: readable fields; request components: writable fields (all optional for Patched*). */
export function registerComponents(router: ApiRouter, name: string, props: Props) {
  const read: Record<string, TSchema> = {};
  const write: Record<string, TSchema> = {};
  for (const k of readableKeys(props)) read[k] = props[k]!;
  for (const k of writableKeys(props)) write[k] = props[k]!;
  const readRequired = readableKeys(props).filter((k) => !props[k]!['x-optional-out']);
  router.component(name, { ...Type.Object(read), required: readRequired });
  router.component(`${name}Request`, { ...Type.Object(write), required: writableKeys(props).filter((k) => isRequired(props[k]!)) });
  router.component(`Patched${name}Request`, { ...Type.Object(write), required: [] });
}

/** `Paginated<component>List`: a page of `component` in authentik's list shape */
export function registerPaginated(router: ApiRouter, component: string) {
  router.component(`Paginated${component}List`, {
    type: 'object',
    properties: {
      pagination: { $ref: '#/components/schemas/Pagination' },
      results: { type: 'array', items: { $ref: `#/components/schemas/${component}` } },
      autocomplete: { type: 'object', additionalProperties: {} },
    },
    required: ['pagination', 'results', 'autocomplete'],
  });
}

/**
 * A resource's model as blueprints write it (src/blueprints/): its definition and where its objects' pks are. Every
 * resource with an RBAC label and a create is one, under that label (`authentik_flows.flow`), in its router's
 * `models` (one per application: a test process runs several).
 */
export interface WritableModel {
  label: string;
  def: ResourceDef<any>;
  /** SQL reference of the pk (as the API shows it) in `def.select` */
  pkColumn: string;
  pkInt: boolean;
  audit(
    req: FastifyRequest,
    action: 'model_created' | 'model_updated' | 'model_deleted',
    key: string | number,
    obj: unknown,
  ): Promise<void>;
}

/**
 * A create (no `existing`) or update of `def`'s object inside the caller's transaction, exactly as the API's POST,
 * PUT and PATCH validate and write it (field and object validation reading through `tx`); returns its lookup value.
 */
export async function writeWithin<Row extends object>(
  tx: Tx,
  def: ResourceDef<Row>,
  body: unknown,
  /** `initialPermissions: false`: the caller's roles gain no permissions on what it creates (a write the caller did not make through the API) */
  ctx: { caller: Caller; mode: Mode; req: FastifyRequest; initialPermissions?: false },
  existing?: Row,
): Promise<string | number> {
  const wctx: WriteCtx = { db: tx, caller: ctx.caller, mode: ctx.mode, req: ctx.req, body };
  const data = await validateBody(def.props, body, { mode: ctx.mode, db: tx, existing: existing as Record<string, unknown> | undefined });
  if (def.validate) await def.validate(data, wctx, existing);
  return writeValidated(tx, def, data, wctx, existing, ctx.initialPermissions ?? true);
}

async function writeValidated<Row extends object>(
  tx: Tx,
  def: ResourceDef<Row>,
  data: Record<string, unknown>,
  ctx: WriteCtx,
  existing?: Row,
  initialPermissions = true,
) {
  await lockConfigEpoch(tx);
  // what the validation read before the lock may have changed since: the object deleted, a referenced object
  // deleted, a unique value taken by a concurrent write (each of those took this lock first, so now it holds)
  if (existing) {
    const key = (existing as Record<string, unknown>)[def.lookup.rowKey ?? def.lookup.column] as string | number;
    if (!(await def.select(tx).where(def.lookup.column, '=', key).executeTakeFirst())) throw NotFound.model(def.model);
  }
  const errors = await checkReferences(def.props, data, { db: tx, existing: existing as Record<string, unknown> | undefined });
  if (Object.keys(errors).length) throw new ValidationError(errors);
  if (existing) return def.update!(tx, existing, data, ctx);
  const created = await def.insert!(tx, data, ctx);
  // authentik's InitialPermissions: the creator's roles receive their permissions on the new object
  const rbac = def.access.kind === 'superuser' && initialPermissions ? def.rbac : undefined;
  if (rbac && (await hasInitialPermissions(tx, ctx.caller.user.id, rbac.label))) {
    const row = (await def.select(tx).where(def.lookup.column, '=', created).executeTakeFirst()) as Record<string, unknown>;
    await assignInitialPermissions(
      tx,
      ctx.caller.user.id,
      rbac.label,
      String(row[rbac.pk?.rowKey ?? def.lookup.rowKey ?? def.lookup.column]),
    );
  }
  return created;
}

export function mountResource<Row extends object>(router: ApiRouter, db: DB, def: ResourceDef<Row>) {
  const ops = new Set(def.ops);
  const idSchema =
    def.lookup.type === 'int' ? { type: 'integer' } : def.lookup.type === 'uuid' ? { type: 'string', format: 'uuid' } : { type: 'string' };
  const pathParams = [{ name: def.lookup.param, schema: idSchema }];
  registerComponents(router, def.component, def.props);
  registerPaginated(router, def.component);

  const scoped = (q: QB, caller: Caller): QB =>
    def.access.kind === 'owner' && (!caller.superuser || def.access.strict) ? q.where(def.access.column, '=', caller.user.id) : q;

  // RBAC: the model's permissions, and where its objects' pks are
  const rbac = def.access.kind === 'superuser' ? def.rbac : undefined;
  const pkColumn = rbac?.pk?.column ?? def.lookup.column;
  const pkKey = rbac?.pk?.rowKey ?? def.lookup.rowKey ?? def.lookup.column;
  const pkInt = rbac?.pk ? !!rbac.pk.int : def.lookup.type === 'int';
  const pkValue = (v: string): string | number | undefined => (pkInt ? (/^\d{1,15}$/.test(v) ? Number(v) : undefined) : v);
  const [app, model] = (rbac?.label ?? '.').split('.') as [string, string];
  /** `view`, `add`, `change`, `delete`, or one of the model's own codenames, as `app_label.codename` */
  const perm = (action: string) =>
    ['view', 'add', 'change', 'delete'].includes(action) ? `${app}.${action}_${model}` : `${app}.${action}`;
  if (rbac)
    registerModel({
      label: rbac.label,
      verbose: rbac.verbose,
      ...(rbac.extra ? { extra: rbac.extra } : {}),
      describe: async (d, pk) => {
        const v = pkValue(pk);
        if (v === undefined) return undefined;
        const row = (await def.select(d).where(pkColumn, '=', v).executeTakeFirst()) as Record<string, unknown> | undefined;
        return row ? String(row.name ?? row.username ?? row.identifier ?? row.slug ?? pk) : undefined;
      },
    });

  /** the rows the caller may see: all with the model's view permission, else those they may view one by one (403 when none) */
  const visible = async (q: QB, caller: Caller): Promise<QB> => {
    if (!rbac || caller.superuser) return scoped(q, caller);
    if (await hasGlobal(db, caller, perm('view'))) return q;
    const pks = [...(await objectsWith(db, caller, perm('view')))].map(pkValue).filter((v) => v !== undefined);
    if (!pks.length) throw Forbidden.permission();
    return q.where(pkColumn, 'in', pks);
  };

  const authorizeList = (req: FastifyRequest): Caller => {
    const caller = requireCaller(req);
    if (def.access.kind === 'superuser' && !caller.superuser && !rbac) throw Forbidden.permission();
    return caller;
  };

  /**
   * The object named in the URL, or 404. `action` (RBAC) names the permission the caller needs on it besides seeing
   * it; without one only a superuser passes (a route mounted beside the resource says what it needs).
   */
  const load = async (req: FastifyRequest, action?: string): Promise<{ row: Row; caller: Caller }> => {
    if (!req.caller) throw Forbidden.permission();
    const caller = req.caller;
    const byRole = !!rbac && action !== undefined && !caller.superuser;
    if (def.access.kind === 'superuser' && !caller.superuser && !byRole) throw Forbidden.permission();
    const raw = (req.params as Record<string, string>)[def.lookup.param] ?? '';
    let key: string | number = raw;
    if (def.lookup.type === 'uuid') {
      if (!isUuid(raw)) throw NotFound.plain();
      key = normalizeUuid(raw);
    } else if (def.lookup.type === 'int') {
      if (!/^\d{1,15}$/.test(raw)) throw NotFound.plain();
      key = Number(raw);
    }
    const q = byRole ? await visible(def.select(db), caller) : scoped(def.select(db), caller);
    const row = (await q.where(def.lookup.column, '=', key).executeTakeFirst()) as Row | undefined;
    if (!row) throw NotFound.model(def.model);
    if (byRole && action !== 'view' && !(await can(db, caller, perm(action!), String((row as Record<string, unknown>)[pkKey]))))
      throw Forbidden.permission();
    return { row, caller };
  };

  const renderOne = async (req: FastifyRequest, caller: Caller, key: string | number) => {
    const row = (await scoped(def.select(db), caller).where(def.lookup.column, '=', key).executeTakeFirst()) as Row | undefined;
    if (!row) throw NotFound.model(def.model);
    return (await def.render(db, [row], req))[0];
  };

  const write = async (req: FastifyRequest, mode: Mode, caller: Caller, existing?: Row) => {
    const ctx: WriteCtx = { db, caller, mode, req, body: req.body };
    const data = await validateBody(def.props, req.body, { mode, db, existing: existing as Record<string, unknown> | undefined });
    if (def.validate) await def.validate(data, ctx, existing);
    // the object as it was, for the event's diff (read before the transaction: SQLite's one connection)
    const ownKey = existing ? (existing as Record<string, unknown>)[def.lookup.rowKey ?? def.lookup.column] : undefined;
    const before =
      ownKey === undefined || ownKey === null
        ? undefined
        : ((await renderOne(req, caller, ownKey as string | number)) as Record<string, unknown>);
    const key = await db.transaction().execute((tx) => writeValidated(tx, def, data, ctx, existing));
    await def.afterWrite?.(key, ctx);
    const out = await renderOne(req, caller, key);
    const { flags } = await systemSettings(db);
    const diff = auditDiff(def.props, before, out as Record<string, unknown>, flags.enterprise_audit_include_expanded_diff);
    await audit(req, existing ? 'model_updated' : 'model_created', key, out, diff);
    return out;
  };

  const audit = async (
    req: FastifyRequest,
    action: 'model_created' | 'model_updated' | 'model_deleted',
    key: string | number,
    obj: unknown,
    diff?: Record<string, unknown>,
  ) => {
    const o = (obj ?? {}) as Record<string, unknown>;
    const name = String(o.name ?? o.identifier ?? o.username ?? o.slug ?? key);
    // authentik's model reference: its app label and model name (an event matcher policy's `model` compares them)
    const ref = rbac ? { app, model_name: model } : { app: 'keystage', model_name: def.model.toLowerCase() };
    await router.audit?.(req, action, { model: { ...ref, pk: String(o.pk ?? key), name }, ...(diff ? { diff } : {}) });
  };

  if (rbac && def.insert && def.update) router.models.set(rbac.label, { label: rbac.label, def, pkColumn, pkInt, audit });

  const base = def.path;
  const detail = `${base}/{${def.lookup.param}}`;
  const p = def.opPrefix;
  const routes: Partial<Record<Method, RouteDef>> = {};
  if (ops.has('list'))
    routes.get = {
      doc: {
        operationId: `${p}_list`,
        tag: def.tag,
        query: [...listQueryParams(def.list), ...(def.extraQuery ?? [])],
        response: `Paginated${def.component}List`,
      },
      handler: async (req) => {
        if (def.listHandler) return def.listHandler(req);
        const caller = authorizeList(req);
        return paginate(
          db,
          await visible(def.select(db), caller),
          def.list,
          req.query as Query,
          (rows: Row[]) => def.render(db, rows, req),
          caller,
        );
      },
    };
  if (ops.has('create'))
    routes.post = {
      doc: {
        operationId: `${p}_create`,
        tag: def.tag,
        body: `${def.component}Request`,
        bodyRequired: true,
        response: def.component,
        status: 201,
      },
      handler: async (req, reply) => {
        const caller = requireCaller(req);
        if (def.access.kind === 'superuser' && !caller.superuser && !(rbac && (await hasGlobal(db, caller, perm('add')))))
          throw Forbidden.permission();
        if (def.access.kind === 'authenticated') throw Forbidden.permission();
        const out = await write(req, 'create', caller);
        reply.code(201);
        return out;
      },
    };
  router.route(base, routes);

  const d: Partial<Record<Method, RouteDef>> = {};
  if (ops.has('retrieve'))
    d.get = {
      doc: {
        operationId: `${p}_retrieve`,
        tag: def.tag,
        response: def.component,
        ...(def.retrieveQuery ? { query: def.retrieveQuery } : {}),
      },
      handler: async (req) => {
        const { row } = await load(req, 'view');
        return (await def.render(db, [row], req))[0];
      },
    };
  if (ops.has('update'))
    d.put = {
      doc: { operationId: `${p}_update`, tag: def.tag, body: `${def.component}Request`, bodyRequired: true, response: def.component },
      handler: async (req) => {
        const { row, caller } = await load(req, 'change');
        return write(req, 'update', caller, row);
      },
    };
  if (ops.has('partial_update'))
    d.patch = {
      doc: { operationId: `${p}_partial_update`, tag: def.tag, body: `Patched${def.component}Request`, response: def.component },
      handler: async (req) => {
        const { row, caller } = await load(req, 'change');
        return write(req, 'partial', caller, row);
      },
    };
  if (ops.has('destroy'))
    d.delete = {
      doc: { operationId: `${p}_destroy`, tag: def.tag, status: 204 },
      handler: async (req, reply) => {
        const { row, caller } = await load(req, 'delete');
        const ctx: WriteCtx = { db, caller, mode: 'update', req };
        const key = (row as Record<string, unknown>)[def.lookup.rowKey ?? def.lookup.column] as string;
        await def.beforeRemove?.(row, ctx);
        await db.transaction().execute(async (tx) => {
          await lockConfigEpoch(tx);
          await def.remove!(tx, row, ctx);
          // permissions on the object go with it (an integer pk may be given again to a later object)
          if (rbac && !def.removeKeepsRow) await removeObjectPermissions(tx, rbac.label, String((row as Record<string, unknown>)[pkKey]));
        });
        await def.afterRemove?.(row, ctx);
        if (def.removeKeepsRow) await audit(req, 'model_updated', key, await renderOne(req, caller, key));
        else await audit(req, 'model_deleted', key, row);
        reply.code(204);
        return reply.send();
      },
    };
  router.route(detail, d, pathParams);

  if (ops.has('used_by'))
    router.route(
      `${detail}/used_by`,
      {
        get: {
          doc: {
            operationId: `${p}_used_by_list`,
            tag: def.tag,
            response: { type: 'array', items: { $ref: '#/components/schemas/UsedBy' } },
          },
          handler: async (req) => {
            const { row, caller } = await load(req, 'view');
            const all = def.usedBy ? await def.usedBy(db, row) : [];
            // only what the caller may view (authentik's UsedByMixin: get_objects_for_user(view_<model>))
            const seen = await Promise.all(all.map((u) => can(db, caller, `${u.app}.view_${u.model_name}`, u.pk)));
            return all.filter((_, i) => seen[i]);
          },
        },
      },
      pathParams,
    );

  return { load, renderOne, perm, visible };
}
