/**
 * `/core/object_attributes/` (authentik's ObjectAttributeViewSet): the schema administrators give users' and groups'
 * `attributes` — `key` (a dotted path), `label`, `group`, `type` (text, number, boolean), `regex`, `is_required`,
 * `is_unique`, `enabled` — enforced by ./validate.ts when those objects are written. `object_type` is
 * `authentik_core.user` or `authentik_core.group` ("Invalid object type" otherwise); one enabled attribute per model and
 * key (authentik's unique set); a pattern RE2 cannot compile is refused here rather than failing later.
 */
import { Type } from '@sinclair/typebox';
import { sql, type SqlBool } from 'kysely';
import { ValidationError } from '../rest/errors.js';
import { newPk } from '../rest/requested-pk.js';
import { mountResource, type ResourceDef } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import { nowIso, rowToApi } from '../rest/serialize.js';
import type { Services } from '../services.js';
import { ATTRIBUTE_TYPES, type ObjectAttributesTable } from './table.js';
import { ATTRIBUTE_MODELS, patternError } from './validate.js';

export const objectAttributeProps = {
  pk: S.ro(S.uuid({ title: 'Attribute id' })),
  object_type: S.str(),
  object_type_obj: S.ro(Type.Unsafe({ allOf: [{ $ref: '#/components/schemas/ContentType' }], 'x-computed': true })),
  enabled: S.bool({ default: true }),
  created: S.ro(S.datetime()),
  key: S.str(),
  label: S.str(),
  last_updated: S.ro(S.datetime()),
  regex: S.text({ default: '' }),
  type: S.enumOf(ATTRIBUTE_TYPES),
  group: S.text({ default: '' }),
  managed: S.nullable(
    S.str({
      default: null,
      title: 'Managed by authentik',
      description:
        'Objects that are managed by authentik. These objects are created and updated automatically. This flag only indicates that an object can be overwritten by migrations. You can still modify the objects via the API, but expect changes to be overwritten in a later update.',
      'x-unique': {
        table: 'object_attributes',
        column: 'managed',
        self: 'attribute_id',
        message: 'Object Attribute with this Managed by authentik already exists.',
      },
    }),
  ),
  is_unique: S.bool({ default: false }),
  is_required: S.bool({ default: false }),
};

const contentType = (objectType: string) => {
  const m = ATTRIBUTE_MODELS[objectType];
  const [app_label, model] = objectType.split('.') as [string, string];
  return { id: m?.id ?? 0, app_label, model, verbose_name_plural: m?.verbosePlural ?? model, fully_qualified_model: objectType };
};

const COLUMNS = ['object_type', 'label', 'group', 'key', 'type', 'regex', 'managed'] as const;
const FLAGS = ['enabled', 'is_unique', 'is_required'] as const;

function columns(data: Record<string, unknown>): Partial<ObjectAttributesTable> {
  const set: Record<string, unknown> = {};
  for (const k of COLUMNS) if (data[k] !== undefined) set[k] = data[k];
  for (const k of FLAGS) if (data[k] !== undefined) set[k] = data[k] ? 1 : 0;
  return set as Partial<ObjectAttributesTable>;
}

/** the model part of `object_type` equal to the value (authentik's `object_type__model`, `__app_label`) */
const partFilter = (index: 0 | 1) => ({
  type: 'custom' as const,
  parse: (values: string[]) => {
    const v = values.at(-1) ?? '';
    const types = Object.keys(ATTRIBUTE_MODELS).filter((t) => t.split('.')[index] === v);
    return { cond: v === '' ? undefined : (eb: any) => (types.length ? eb('a.object_type', 'in', types) : sql<SqlBool>`1 = 0`) };
  },
});

export const objectAttributeResource: ResourceDef<ObjectAttributesTable> = {
  component: 'ObjectAttribute',
  model: 'Object Attribute',
  path: '/core/object_attributes',
  opPrefix: 'core_object_attributes',
  tag: 'core',
  lookup: { param: 'attribute_id', column: 'a.attribute_id', rowKey: 'attribute_id', type: 'uuid' },
  props: objectAttributeProps,
  ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_core.objectattribute', verbose: 'Object Attribute' },
  list: {
    filters: {
      enabled: { type: 'bool', column: 'a.enabled' },
      object_type__app_label: partFilter(0),
      object_type__model: partFilter(1),
    },
    search: ['a.key', 'a.label', 'a.group', 'a.object_type'],
    ordering: { key: 'a.key', label: 'a.label', created: 'a.created' },
    defaultOrdering: ['key'],
    pk: 'a.attribute_id',
  },
  select: (db) => db.selectFrom('object_attributes as a').selectAll('a'),
  render: async (_db, rows) =>
    rows.map((r) => ({
      pk: r.attribute_id,
      object_type: r.object_type,
      object_type_obj: contentType(r.object_type),
      enabled: !!r.enabled,
      ...rowToApi({ created: S.datetime(), last_updated: S.datetime() }, r),
      key: r.key,
      label: r.label,
      regex: r.regex,
      type: r.type,
      group: r.group,
      managed: r.managed,
      is_unique: !!r.is_unique,
      is_required: !!r.is_required,
    })),
  validate: async (data, ctx, existing) => {
    if (data.object_type !== undefined && !ATTRIBUTE_MODELS[String(data.object_type)])
      throw ValidationError.field('object_type', 'Invalid object type');
    if (typeof data.regex === 'string') {
      const bad = patternError(data.regex);
      if (bad) throw ValidationError.field('regex', bad);
    }
    // authentik's unique set (object_type, key, enabled)
    const objectType = (data.object_type ?? existing?.object_type) as string;
    const key = (data.key ?? existing?.key) as string;
    const enabled = data.enabled === undefined ? (existing ? !!existing.enabled : true) : !!data.enabled;
    const clash = await ctx.db
      .selectFrom('object_attributes')
      .select('attribute_id')
      .where('object_type', '=', objectType)
      .where('key', '=', key)
      .where('enabled', '=', (enabled ? 1 : 0) as never)
      .$if(existing !== undefined, (q) => q.where('attribute_id', '!=', existing!.attribute_id))
      .executeTakeFirst();
    if (clash) throw ValidationError.nonField('The fields object_type, key, enabled must make a unique set.');
  },
  insert: async (tx, data) => {
    const id = newPk();
    const now = nowIso();
    await tx
      .insertInto('object_attributes')
      .values({
        attribute_id: id,
        enabled: 1,
        object_type: String(data.object_type),
        label: String(data.label),
        group: '',
        key: String(data.key),
        type: data.type as ObjectAttributesTable['type'],
        is_unique: 0,
        is_required: 0,
        regex: '',
        managed: null,
        created: now,
        last_updated: now,
        ...columns(data),
      })
      .execute();
    return id;
  },
  update: async (tx, existing, data) => {
    await tx
      .updateTable('object_attributes')
      .set({ ...columns(data), last_updated: nowIso() })
      .where('attribute_id', '=', existing.attribute_id)
      .execute();
    return existing.attribute_id;
  },
  remove: async (tx, existing) => {
    await tx.deleteFrom('object_attributes').where('attribute_id', '=', existing.attribute_id).execute();
  },
};

export function mountObjectAttributes(router: ApiRouter, svc: Services) {
  mountResource(router, svc.db, objectAttributeResource);
}
