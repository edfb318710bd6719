/**
 * What a lifecycle rule may review (authentik's `model_choices`: applications, groups, roles): each type's table,
 * its objects' names as authentik's `str()` gives them, and the admin interface's link to an object's lifecycle page
 * (authentik's `admin_link_for_model` / `link_for_model`).
 */
import type { Kysely } from 'kysely';
import type { DB } from '../../db/index.js';
import type { Reviewable } from './table.js';

export interface ReviewTarget {
  pk: string;
  name: string;
  /** the admin interface's path of the object (its lifecycle page) */
  adminUrl: string;
}

interface TypeInfo {
  table: string;
  pk: string;
  /** Django's verbose names (ContentType.name is the singular) */
  verbose: string;
  plural: string;
  /** the admin interface's path of an object, before the page selector */
  path(o: { pk: string; slug: string }): string;
}

const TYPES: Record<Reviewable, TypeInfo> = {
  'authentik_core.application': {
    table: 'applications',
    pk: 'pbm_uuid',
    verbose: 'Application',
    plural: 'Applications',
    path: (o) => `/core/applications/${o.slug}`,
  },
  'authentik_core.group': {
    table: 'groups',
    pk: 'group_uuid',
    verbose: 'Group',
    plural: 'Groups',
    path: (o) => `/identity/groups/${o.pk}`,
  },
  'authentik_rbac.role': { table: 'roles', pk: 'role_uuid', verbose: 'Role', plural: 'Roles', path: (o) => `/identity/roles/${o.pk}` },
};

export const typeInfo = (t: Reviewable) => TYPES[t];

const PAGE = `;${encodeURIComponent('{"page":"page-lifecycle"}')}`;

async function select(db: DB, type: Reviewable, pks?: string[]): Promise<ReviewTarget[]> {
  const t = TYPES[type];
  const d = db as unknown as Kysely<any>;
  const rows = (await d
    .selectFrom(t.table)
    .select([`${t.pk} as pk`, 'name', ...(type === 'authentik_core.application' ? ['slug'] : [])])
    .$if(pks !== undefined, (q) => q.where(t.pk, 'in', pks!))
    .orderBy('name')
    .execute()) as { pk: string; name: string; slug?: string }[];
  return rows.map((r) => ({ pk: String(r.pk), name: r.name, adminUrl: `${t.path({ pk: String(r.pk), slug: r.slug ?? '' })}${PAGE}` }));
}

/** the objects of a type (or the one named), by name */
export const targetsOf = (db: DB, type: Reviewable, objectId?: string | null) =>
  select(db, type, objectId === undefined || objectId === null ? undefined : [objectId]);

/** the objects named, by pk (the ones that no longer exist are missing) */
export async function targetsByPk(db: DB, type: Reviewable, pks: string[]): Promise<Map<string, ReviewTarget>> {
  if (!pks.length) return new Map();
  return new Map((await select(db, type, [...new Set(pks)])).map((o) => [o.pk, o]));
}

/** the link a notification carries: the admin interface at the object's lifecycle page */
export const linkFor = (o: ReviewTarget) => `/if/admin/#${o.adminUrl}`;
