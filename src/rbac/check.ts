/**
 * What a caller may do, as authentik's `User.has_perm`: a superuser everything; anyone else what the roles they hold
 * grant — roles given to them, to any group they are a member of, or to any ancestor of those groups. A permission
 * held for the whole model (`app_label.codename`) ranks above the same permission on single objects.
 *
 * Each answer is one statement (a recursive common table expression, the same text on SQLite and PostgreSQL), asked
 * at most once per request: the answers are kept with the request's caller.
 */
import { sql } from 'kysely';
import type { FastifyRequest } from 'fastify';
import type { DB } from '../db/index.js';
import { requireCaller, type Caller } from '../rest/auth.js';
import { Forbidden } from '../rest/errors.js';
import { memberOf } from '../groups/membership.js';
import { SYSTEM_MODEL, modelInfo } from './catalogue.js';
import type {} from './table.js';

export interface Subject {
  user: { id: number };
  superuser: boolean;
}

interface Kept {
  global?: Promise<Set<string>>;
  objects: Map<string, Promise<Set<string>>>;
}
const kept = new WeakMap<Subject, Kept>();
const keptFor = (s: Subject): Kept => {
  let k = kept.get(s);
  if (!k) kept.set(s, (k = { objects: new Map() }));
  return k;
};

/** the roles `userId` holds (directly, or through groups and their ancestors), as a CTE named `held(role_uuid)` */
export const held = (userId: number) => sql`${memberOf(userId)}, held(role_uuid) as (
    select ur.role_uuid from user_roles ur where ur.user_id = ${userId}
    union
    select gr.role_uuid from group_roles gr inner join member_of m on m.group_uuid = gr.group_uuid
  )`;

/** UUIDs of the roles the user holds, directly and through groups */
export async function rolesOf(db: DB, userId: number): Promise<string[]> {
  const { rows } = await sql<{ role_uuid: string }>`${held(userId)} select role_uuid from held`.execute(db);
  return rows.map((r) => r.role_uuid);
}

/** the roles the user holds, directly and through groups, by name (`/core/users/me/`'s `roles`) */
export async function heldRoles(db: DB, userId: number): Promise<{ name: string; pk: string }[]> {
  const { rows } = await sql<{ name: string; pk: string }>`${held(userId)}
      select r.name, r.role_uuid as pk from roles r where r.role_uuid in (select role_uuid from held) order by r.name`.execute(db);
  return rows;
}

/** `app_label.codename` of every permission the user holds for a whole model */
function globalOf(db: DB, s: Subject): Promise<Set<string>> {
  const k = keptFor(s);
  k.global ??= sql<{ app_label: string; codename: string }>`${held(s.user.id)}
      select p.app_label, p.codename from role_model_permissions rp
      inner join rbac_permissions p on p.id = rp.permission_id
      where rp.role_uuid in (select role_uuid from held)`
    .execute(db)
    .then(({ rows }) => new Set(rows.map((r) => `${r.app_label}.${r.codename}`)));
  return k.global;
}

/** whether the caller holds `perm` (`app_label.codename`) for every object of its model */
export async function hasGlobal(db: DB, s: Subject, perm: string): Promise<boolean> {
  return s.superuser || (await globalOf(db, s)).has(perm);
}

/** the pks of the objects the caller holds `perm` on, one by one */
export function objectsWith(db: DB, s: Subject, perm: string): Promise<Set<string>> {
  const k = keptFor(s);
  let p = k.objects.get(perm);
  if (!p) {
    const [app, codename] = perm.split('.') as [string, string];
    p = sql<{ object_pk: string }>`${held(s.user.id)}
        select distinct o.object_pk from role_object_permissions o
        inner join rbac_permissions p on p.id = o.permission_id
        where p.app_label = ${app} and p.codename = ${codename} and o.role_uuid in (select role_uuid from held)`
      .execute(db)
      .then(({ rows }) => new Set(rows.map((r) => String(r.object_pk))));
    k.objects.set(perm, p);
  }
  return p;
}

/** authentik's `has_perm(perm, obj)`: globally, or on the object with this pk */
export async function can(db: DB, s: Subject, perm: string, objectPk?: string | number): Promise<boolean> {
  if (await hasGlobal(db, s, perm)) return true;
  return objectPk !== undefined && (await objectsWith(db, s, perm)).has(String(objectPk));
}

/** the system permissions' codenames the caller holds (`/core/users/me/`'s `system_permissions`) */
export async function systemPermissions(db: DB, s: Subject): Promise<string[]> {
  const app = SYSTEM_MODEL.split('.')[0];
  const all = (modelInfo(SYSTEM_MODEL)?.extra ?? []).map(([codename]) => codename);
  if (s.superuser) return all;
  const mine = await globalOf(db, s);
  return all.filter((c) => mine.has(`${app}.${c}`));
}

/** a route's own permission (authentik's `permission_required` without an object): 403 unless the caller holds it */
export async function requirePermission(db: DB, req: FastifyRequest, perm: string): Promise<Caller> {
  const caller = requireCaller(req);
  if (!(await hasGlobal(db, caller, perm))) throw Forbidden.permission();
  return caller;
}
