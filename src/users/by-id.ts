/** A user row by primary key — asked on most executor requests, so the statement is compiled once per database. */
import { hot, perDatabase } from '../db/hot.js';
import type { DB } from '../db/index.js';
import type { UsersTable } from '../db/types.js';
import { Type } from '@sinclair/typebox';
import { NotFound } from '../rest/errors.js';
import { validateBody } from '../rest/validate.js';
import { can, type Subject } from '../rbac/check.js';

const byId = perDatabase((db) =>
  hot<{ id: number }, UsersTable>(db, ['id'], (p) => db.selectFrom('users').selectAll().where('id', '=', p.id)),
);

/** `undefined` for an id no user can have: not an integer, or outside the column's int32 range (PostgreSQL would refuse it) */
export async function userById(db: DB, id: number): Promise<UsersTable | undefined> {
  if (!Number.isInteger(id) || id < -2147483648 || id > 2147483647) return undefined;
  return (await byId(db)({ id }))[0];
}

/**
 * The user an account body (`{"pk": …}`, authentik's UserAccountSerializer) names, among the users the caller may view
 * (authentik's get_objects_for_user(view_user) in the groups' and roles' add_user/remove_user): a 400 on a bad body,
 * a plain 404 for a pk no user has (DRF's IntegerField has no bounds: one no user can have is unknown like any other)
 * and for a user the caller may not view, alike.
 */
export async function userOfAccountBody(db: DB, body: unknown, caller: Subject): Promise<UsersTable> {
  const data = await validateBody({ pk: Type.Integer() }, body, { mode: 'create', db });
  const user = await userById(db, data.pk as number);
  if (!user || !(await can(db, caller, 'authentik_core.view_user', user.id))) throw NotFound.plain();
  return user;
}
