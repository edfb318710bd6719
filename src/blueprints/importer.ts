/**
 * Applies a blueprint as authentik's Importer (authentik/blueprints/v1/importer.py): entry by entry, in order, each
 * through the model's REST resource — the same field and object validation as the API's POST and PATCH — inside
 * ONE transaction: any invalid entry rolls every entry back (authentik validates in a rolled-back transaction,
 * then applies; one transaction gives the same all-or-nothing without running the entries twice).
 *
 * An entry finds its object by its identifiers (`pk`, or every other identifier together), then by `state`:
 * `present` creates or partially updates it, `created` creates it only when missing, `must_created` refuses an
 * existing one, `absent` deletes it. A new object gets the pk its entry names (`newPk`, src/rest/requested-pk.ts),
 * and a pk the file names whose object was found by its other identifiers maps to that object, so an export
 * can be applied to another instance (references to them in later entries follow). The caller needs the add,
 * change and delete permissions of each entry's model, as authentik's `check_blueprint_perms` (superusers have all).
 */
import type { FastifyRequest } from 'fastify';
import type { DB } from '../db/index.js';
import { ValidationError, type FieldErrors } from '../rest/errors.js';
import type { Caller } from '../rest/auth.js';
import { writeWithin, type Tx, type WritableModel } from '../rest/resource.js';
import { dialectOf } from '../db/dialect.js';
import type { FilterSpec } from '../rest/list.js';
import { hasGlobal } from '../rbac/check.js';
import { withRequestedPk } from '../rest/requested-pk.js';
import { removeObjectPermissions } from '../rbac/object-permissions.js';
import { lockConfigEpoch } from '../db/config-epoch.js';
import { attachSecrets, secretsOf } from '../instance/secrets.js';
import { type Blueprint, type BlueprintEntry, ENTRY_STATES, type EntryState } from './blueprint.js';
import { EntryInvalid, isMap, resolveValue, truthy, type TagScope } from './tags.js';

/** what a meta model (an entry that is an action, not an object: `authentik_blueprints.meta…`) is given */
export interface MetaModelCall {
  tx: Tx;
  /** the entry's attrs, resolved */
  attrs: Record<string, unknown>;
  caller: Caller;
  /** the first object of a model matching every [field, value], through its list filters (its row) */
  find(label: string, conditions: [string, unknown][]): Promise<Record<string, unknown> | undefined>;
  log(event: string, attributes?: Record<string, unknown>): void;
  /** work for once the import committed (an audit event: nothing may use another handle inside the transaction) */
  afterCommit(work: () => Promise<void>): void;
  req: FastifyRequest;
}
export type MetaModel = (call: MetaModelCall) => Promise<void>;

/** a blueprint instance a `metaapplyblueprint` entry names, to be applied first (in the same transaction) */
export interface NestedBlueprint {
  /** the instance's uuid: a chain that comes back to one is refused */
  uuid: string;
  name: string;
  enabled: boolean;
  /** its parsed content (a file's or the row's), or why it could not be read */
  blueprint: Blueprint | string;
  context: Record<string, unknown>;
  serverReads?: TagScope['serverReads'];
  /** records on the instance that it applied (in the transaction, which has not committed yet) */
  applied?: (tx: Tx) => Promise<void>;
}

export type { LogEvent } from '../events/log-event.js';
import type { LogEvent } from '../events/log-event.js';

export interface ImportResult {
  success: boolean;
  logs: LogEvent[];
  /** the entry that failed: its id, why, and the resource's field errors when its validation refused it */
  failed?: { id: string | undefined; message: string; errors?: FieldErrors | string[] };
  /** the objects written, for the audit events and `managed_models` */
  written: {
    model: WritableModel;
    action: 'model_created' | 'model_updated' | 'model_deleted';
    key: string | number;
    object: unknown;
    /** a deleted object's row, for its resource's `afterRemove` */
    row?: unknown;
  }[];
}

const LOGGER = 'authentik.blueprints.v1.importer';
/** authentik's meta model applying another blueprint file (`attrs: { identifiers: { name | path }, required }`) */
const META_APPLY = 'authentik_blueprints.metaapplyblueprint';
class Rollback extends Error {}
class DryRun extends Error {}
/** the import applied in full but deletes objects whose `beforeRemove` must run outside its transaction first */
class BeforeRemoveFirst extends Error {}

/**
 * How long one entry may take. A resource that read through a database handle of its own instead of the
 * transaction's would wait for the transaction forever with SQLite (one connection), freezing the node: the entry
 * fails instead and the transaction rolls back.
 */
const ENTRY_DEADLINE_MS = 30_000;

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EntryInvalid(`The entry did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** what each applied entry made: its pk and policy binding model */
interface Made {
  pk: unknown;
  pbm: unknown;
}

/** authentik's check_blueprint_perms: the model's add, change and delete permissions (or those `actions`) */
export async function mayWrite(db: DB, caller: Caller, label: string, actions = ['add', 'change', 'delete']): Promise<boolean> {
  if (caller.superuser) return true;
  const [app, model] = label.split('.');
  for (const action of actions) if (!(await hasGlobal(db, caller, `${app}.${action}_${model}`))) return false;
  return true;
}

/**
 * what an identifier names: an SQL column (through the list's filters, or the model fields it declares for
 * identifiers) and whether it holds integers (booleans are 0/1), or a filter of its own (a custom one: `managed`)
 */
function columnOf(
  m: WritableModel,
  field: string,
): { column: string; int: boolean } | { custom: Extract<FilterSpec, { type: 'custom' }> } | undefined {
  if (field === 'pk') return { column: m.pkColumn, int: m.pkInt };
  const f = m.def.list.filters[field];
  if (f && 'column' in f && f.type !== 'secret' && f.type !== 'isnull')
    return { column: f.column, int: f.type === 'int' || f.type === 'bool' };
  if (f?.type === 'custom') return { custom: f };
  const own = m.def.list.identifierColumns?.[field];
  if (own) return { column: own.column, int: !!own.int };
  return undefined;
}

/** an identifier's value as its column holds it, or an entry error (never a database error) */
function columnValue(field: string, value: unknown, int: boolean): unknown {
  const v = isMap(value) && 'pk' in value ? value.pk : value;
  if (v !== null && typeof v === 'object') throw new EntryInvalid(`Invalid identifier field: '${field}' cannot be compared with a mapping`);
  if (typeof v === 'boolean') return Number(v);
  if (int && v !== null && !(typeof v === 'number' ? Number.isInteger(v) : /^-?\d{1,15}$/.test(String(v))))
    throw new EntryInvalid(`Field '${field}' expected a number but got '${String(v)}'.`);
  return int && v !== null ? Number(v) : v;
}

export async function applyBlueprint(
  models: ReadonlyMap<string, WritableModel>,
  db: DB,
  blueprint: Blueprint,
  opts: {
    caller: Caller;
    req: FastifyRequest;
    context?: Record<string, unknown>;
    /** roll back even when every entry applied */
    dryRun?: boolean;
    /** whether the caller may write a model (default: `mayWrite`, authentik's add, change and delete) */
    mayWrite?: (db: DB, caller: Caller, label: string) => Promise<boolean>;
    /** `!Env` and `!File` (a blueprint file's import only) */
    serverReads?: TagScope['serverReads'];
    /** the meta models besides `metaapplyblueprint`, by label (src/blueprints/meta.ts) */
    metaModels?: ReadonlyMap<string, MetaModel>;
    /** the blueprint instance a `metaapplyblueprint` entry's identifiers name (none: such entries cannot apply) */
    findInstance?: (tx: Tx, identifiers: Record<string, unknown>) => Promise<NestedBlueprint | undefined>;
    /** the uuid of the blueprint instance being applied (a `metaapplyblueprint` naming it again is a cycle) */
    instance?: string;
    /** asked first, in the transaction (after its lock): false applies nothing (`skipped`) */
    guard?: (tx: Tx) => Promise<boolean>;
    /** called when every entry applied, in the transaction, before it commits */
    record?: (tx: Tx, written: ImportResult['written']) => Promise<void>;
  },
): Promise<ImportResult & { skipped?: boolean }> {
  const logs: LogEvent[] = [];
  const log = (log_level: LogEvent['log_level'], event: string, attributes: Record<string, unknown> = {}) =>
    logs.push({ timestamp: new Date().toISOString(), log_level, logger: LOGGER, event, attributes });
  if (blueprint.version !== 1) {
    log('warning', 'Invalid blueprint version');
    return { success: false, logs, written: [] };
  }
  const contextOf = (bp: Blueprint, given: Record<string, unknown> | undefined): Record<string, unknown> => ({
    'goauthentik.io/enterprise/licensed': false,
    'goauthentik.io/rbac/models': Object.fromEntries([...models.keys()].map((l) => [l.split('.')[1], l.split('.')[0]])),
    ...bp.context,
    ...(given ?? {}),
  });
  const written: ImportResult['written'] = [];
  const afterCommit: (() => Promise<void>)[] = [];
  let failed: ImportResult['failed'];
  /**
   * deleted objects whose resource has a `beforeRemove` (a user: their sessions end and their providers are told
   * while the user and the tokens the deletion takes along still exist). The import runs in full and rolls back;
   * then each one's `beforeRemove` runs, as the API's DELETE does, and the import applies again (`prepared`).
   */
  const removeFirst: { m: WritableModel; row: Record<string, unknown> }[] = [];
  let prepared = false;

  /** every entry of `bp` in order (a nested blueprint's too, `chain` naming the instances being applied) */
  const applyEntries = async (
    tx: Tx,
    bp: Blueprint,
    context: Record<string, unknown>,
    serverReads: TagScope['serverReads'],
    chain: string[],
  ) => {
    const made = new Map<BlueprintEntry, Made>();
    const pkMap = new Map<unknown, unknown>();
    const mapped = (v: unknown) => (pkMap.has(v) ? pkMap.get(v) : v);
    /** the model's rows matching every [field, value] */
    const rowsWhere = (m: WritableModel, conditions: [string, unknown][]) => {
      const parts: ((eb: any) => unknown)[] = [];
      for (const [field, value] of conditions) {
        const col = columnOf(m, field);
        if (!col) throw new EntryInvalid(`Invalid identifier field: Cannot resolve keyword '${field}' into field.`);
        if ('custom' in col) {
          // a filter of the API's own (e.g. `managed`), given the value as the query string would carry it
          const v = columnValue(field, value, false);
          const r = col.custom.parse([v === null ? '' : String(v)], dialectOf(tx));
          if ('error' in r) throw new EntryInvalid(`Invalid identifier field: ${field}: ${r.error.join(' ')}`);
          const cond = r.cond;
          parts.push(cond ? (eb) => cond(eb) : (eb) => eb.lit(true));
          continue;
        }
        const v = columnValue(field, value, col.int);
        parts.push((eb) => (v === null ? eb(col.column, 'is', null) : eb(col.column, '=', v)));
      }
      return m.def.select(tx).where((eb: any) => eb.and(parts.map((p) => p(eb))));
    };
    const scopeFor = (label: string | undefined): TagScope => ({
      context,
      enumerating: [],
      ...(serverReads ? { serverReads } : {}),
      keyOf: (id) => {
        for (const [e, m] of made) {
          if (e.id !== id) continue;
          return label === 'authentik_policies.policybinding' && m.pbm !== undefined ? m.pbm : m.pk;
        }
        throw new EntryInvalid(`KeyOf: failed to find entry with \`id\` of \`${id}\` and a model instance`);
      },
      find: async (model, conditions) => {
        const m = models.get(model);
        if (!m) throw new EntryInvalid(`No installed app with label '${model.split('.')[0]}' and model '${model.split('.')[1] ?? ''}'.`);
        // (what a tag finds can end up in an object the caller reads back: they must be allowed to see that model)
        const [app, name] = model.split('.');
        if (!opts.caller.superuser && !(await hasGlobal(tx, opts.caller, `${app}.view_${name}`)))
          throw new EntryInvalid(`User lacks permission to view ${model}`);
        const row = (await rowsWhere(m, conditions).executeTakeFirst()) as Record<string, unknown> | undefined;
        if (!row) return undefined;
        const [object] = await m.def.render(tx, [row], opts.req);
        return { pk: object?.pk ?? row[m.pkColumn.split('.').pop()!], object: object ?? {} };
      },
    });

    /** one entry, in the import's transaction */
    const applyEntry = async (entry: BlueprintEntry, attrsOf: { model: string; id: string | null }): Promise<void> => {
      const pre = scopeFor(undefined);
      const label = String(await resolveValue(entry.model, pre));
      const scope = scopeFor(label);
      attrsOf.model = label;
      const conditions = (await resolveValue(entry.conditions, scope)) as unknown[];
      if (!conditions.every(truthy)) {
        log('debug', 'One or more conditions of this entry are not fulfilled, skipping', { entry: attrsOf });
        return;
      }
      if (label === META_APPLY) return applyNested(tx, (await resolveValue(entry.attrs, scope)) as Record<string, unknown>, attrsOf);
      const meta = opts.metaModels?.get(label);
      if (meta)
        return meta({
          tx,
          attrs: (await resolveValue(entry.attrs, scope)) as Record<string, unknown>,
          caller: opts.caller,
          find: async (model, conditions) => {
            const found = models.get(model);
            return found ? ((await rowsWhere(found, conditions).executeTakeFirst()) as Record<string, unknown> | undefined) : undefined;
          },
          log: (event, attributes = {}) => log('debug', event, { entry: attrsOf, ...attributes }),
          afterCommit: (work) => afterCommit.push(work),
          req: opts.req,
        });
      const m = models.get(label);
      if (!m) {
        const [app, model] = label.split('.');
        throw new EntryInvalid(
          [...models.keys()].some((l) => l.startsWith(`${app}.`)) || !model
            ? `App '${app}' doesn't have a '${model ?? ''}' model.`
            : `No installed app with label '${app}'.`,
        );
      }
      if (m.def.inBlueprints === false) throw new EntryInvalid(`Model ${label} not allowed`);
      if (entry.permissions.length) throw new EntryInvalid('Object permissions in blueprints are not supported by Keystage yet');
      const state = (await resolveValue(entry.state, scope)) as EntryState;
      if (!ENTRY_STATES.includes(state)) throw new EntryInvalid(`'${String(state)}' is not a valid BlueprintEntryDesiredState`);
      const identifiers = (await resolveValue(entry.identifiers, scope)) as Record<string, unknown>;
      for (const [k, v] of Object.entries(identifiers)) identifiers[k] = isMap(v) && 'pk' in v ? mapped(v.pk) : mapped(v);
      const { pk, ...others } = identifiers;
      const conds: [string, unknown][] = Object.entries(others);
      if (pk === undefined && !conds.length) throw new EntryInvalid('No or invalid identifiers');
      const byPk = pk === undefined ? undefined : rowsWhere(m, [['pk', pk]]);
      const byOthers = conds.length ? rowsWhere(m, conds) : undefined;
      let existing = byPk ? ((await byPk.executeTakeFirst()) as Record<string, unknown> | undefined) : undefined;
      if (!existing && byOthers) existing = (await byOthers.executeTakeFirst()) as Record<string, unknown> | undefined;

      // (a model a tag named, which checkBlueprintPermissions could not read before the import)
      if (!(await (opts.mayWrite ?? mayWrite)(tx, opts.caller, label))) throw new EntryInvalid(`User lacks permission to create ${label}`);

      if (state === 'absent') {
        if (!existing) {
          log('debug', 'Entry to delete with no instance, skipping', { entry: attrsOf });
          return;
        }
        if (m.def.beforeRemove && !prepared) removeFirst.push({ m, row: existing });
        await m.def.remove!(tx, existing as never, { db: tx, caller: opts.caller, mode: 'update', req: opts.req });
        const objectPk = existing[m.pkColumn.split('.').pop()!];
        await removeObjectPermissions(tx, label, String(objectPk));
        written.push({ model: m, action: 'model_deleted', key: String(objectPk), object: existing, row: existing });
        log('debug', 'Deleted model', { entry: attrsOf, pk: objectPk });
        return;
      }
      if (existing && state === 'must_created') throw new EntryInvalid('State is set to must_created and object exists already');

      let key: string | number;
      if (existing && state === 'created') {
        key = existing[m.def.lookup.rowKey ?? m.def.lookup.column] as string | number;
        log('debug', 'Instance exists, skipping', { entry: attrsOf });
      } else {
        const attrs = (await resolveValue(entry.attrs, scope)) as Record<string, unknown>;
        for (const [k, v] of Object.entries(attrs)) attrs[k] = Array.isArray(v) ? v.map(mapped) : isMap(v) ? v : mapped(v);
        // (the model's blueprint-only fields — a role's `permissions` — are applied after the write, ResourceDef.blueprintFields)
        const extra = m.def.blueprintFields;
        const own: Record<string, unknown> = {};
        const apiAttrs = { ...attrs };
        for (const name of extra?.names ?? []) {
          if (name in apiAttrs) own[name] = apiAttrs[name];
          delete apiAttrs[name];
        }
        const body = { ...apiAttrs, ...others };
        try {
          const write = () =>
            writeWithin(tx, m.def, body, { caller: opts.caller, mode: existing ? 'partial' : 'create', req: opts.req }, existing);
          // a new object gets the pk the file names (so applying the file again finds it), as authentik's
          key = existing ? await write() : await withRequestedPk(pk, write);
          if (extra && Object.keys(own).length)
            for (const warning of await extra.apply(tx, key, own, { caller: opts.caller })) log('warning', warning, { entry: attrsOf });
        } catch (e) {
          if (e instanceof ValidationError) {
            const invalid = new EntryInvalid(`Serializer errors ${JSON.stringify(e.errors as FieldErrors)}`);
            invalid.errors = e.errors;
            throw invalid;
          }
          // (a pk the file names that another kind of object has: the database refuses it)
          if (e instanceof Error && /UNIQUE constraint|duplicate key|FOREIGN KEY|violates/i.test(e.message))
            throw new EntryInvalid(`IntegrityError: ${e.message}`);
          throw e;
        }
      }
      const row = (await m.def.select(tx).where(m.def.lookup.column, '=', key).executeTakeFirst()) as Record<string, unknown>;
      const [object] = await m.def.render(tx, [row], opts.req);
      const rec = object ?? {};
      const newPk = rec.pk ?? row[m.pkColumn.split('.').pop()!];
      made.set(entry, { pk: newPk, pbm: rec.pbm_uuid ?? rec.policybindingmodel_ptr_id });
      if (pk !== undefined && pk !== newPk) pkMap.set(pk, newPk);
      if (!(existing && state === 'created')) {
        written.push({ model: m, action: existing ? 'model_updated' : 'model_created', key, object: rec });
        log('debug', existing ? 'Updated model' : 'Created model', { entry: attrsOf, pk: newPk });
      }
    };

    /**
     * authentik's `metaapplyblueprint`: the instance its identifiers name is applied first — here inside this
     * transaction, so its failure fails this entry and nothing of either is written. A missing instance is this
     * entry's error unless `required: false`; a disabled one is skipped, as authentik's task skips it.
     */
    const applyNested = async (tx: Tx, attrs: Record<string, unknown>, attrsOf: { model: string; id: string | null }) => {
      const identifiers = attrs.identifiers;
      if (!isMap(identifiers) || !Object.keys(identifiers).length) throw new EntryInvalid('identifiers: This field is required.');
      for (const k of Object.keys(identifiers))
        if (k !== 'name' && k !== 'path' && k !== 'pk' && k !== 'instance_uuid')
          throw new EntryInvalid(`Invalid identifier field: Cannot resolve keyword '${k}' into field.`);
      const nested = opts.findInstance ? await opts.findInstance(tx, identifiers) : undefined;
      if (!nested) {
        if (attrs.required === false) {
          log('info', 'Blueprint does not exist, but not required', { entry: attrsOf, identifiers });
          return;
        }
        throw new EntryInvalid('identifiers: Required blueprint does not exist');
      }
      if (!nested.enabled) {
        log('info', 'Blueprint is not enabled, skipping', { entry: attrsOf, blueprint: nested.name });
        return;
      }
      if (chain.includes(nested.uuid)) throw new EntryInvalid(`Blueprint ${nested.name} is already being applied (a cycle)`);
      if (typeof nested.blueprint === 'string') throw new EntryInvalid(`Blueprint ${nested.name}: ${nested.blueprint}`);
      if (nested.blueprint.version !== 1) throw new EntryInvalid(`Blueprint ${nested.name}: Invalid blueprint version`);
      log('debug', 'Applying blueprint from meta model', { entry: attrsOf, blueprint: nested.name });
      try {
        await applyEntries(tx, nested.blueprint, contextOf(nested.blueprint, nested.context), nested.serverReads, [...chain, nested.uuid]);
        await nested.applied?.(tx);
      } catch (e) {
        if (e instanceof EntryInvalid) throw new EntryInvalid(`Blueprint ${nested.name}: ${e.message}`);
        throw e;
      }
    };

    for (const entry of bp.entries) {
      const attrsOf = { model: String(entry.model instanceof Object ? '(tag)' : entry.model), id: entry.id ?? null };
      try {
        await withDeadline(applyEntry(entry, attrsOf), ENTRY_DEADLINE_MS);
      } catch (e) {
        if (!(e instanceof EntryInvalid) || bp !== blueprint) throw e; // (a nested blueprint's: the outer entry's error)
        log('warning', `Entry invalid: ${e.message}`, { entry: attrsOf, error: e.message });
        log('warning', 'Blueprint validation failed');
        failed = { id: entry.id, message: e.message, ...(e.errors ? { errors: e.errors } : {}) };
        throw new Rollback();
      }
    }
  };

  let skipped = false;
  const run = async (tx: Tx) => {
    attachSecrets(tx, secretsOf(db)); // the resources seal and read secrets through their ctx.db: here the transaction
    await lockConfigEpoch(tx);
    if (opts.guard && !(await opts.guard(tx))) {
      skipped = true;
      return;
    }
    await applyEntries(tx, blueprint, contextOf(blueprint, opts.context), opts.serverReads, opts.instance ? [opts.instance] : []);
    if (opts.dryRun) throw new DryRun();
    if (removeFirst.length) throw new BeforeRemoveFirst();
    await opts.record?.(tx, written);
  };

  for (;;) {
    try {
      await db.transaction().execute(run);
      break;
    } catch (e) {
      if (e instanceof Rollback) return { success: false, logs, written: [], ...(failed ? { failed } : {}) };
      if (e instanceof DryRun) return { success: true, logs, written: [] };
      if (!(e instanceof BeforeRemoveFirst)) throw e;
    }
    const ctx = { db, caller: opts.caller, mode: 'update' as const, req: opts.req };
    for (const { m, row } of removeFirst.splice(0)) await m.def.beforeRemove!(row as never, ctx);
    prepared = true;
    logs.length = 0;
    written.length = 0;
    afterCommit.length = 0;
  }
  if (skipped) return { success: true, logs, written: [], skipped };
  // what a resource does once its write committed (an LDAP source's sync asked for, a session's tokens ended)
  for (const w of written) {
    const ctx = { db, caller: opts.caller, mode: 'update' as const, req: opts.req };
    if (w.action === 'model_deleted') await w.model.def.afterRemove?.(w.row, ctx);
    else await w.model.def.afterWrite?.(w.key, ctx);
  }
  for (const work of afterCommit) await work();
  return { success: true, logs, written };
}
