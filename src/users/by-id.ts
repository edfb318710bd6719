/** A user row by primary key — asked on most executor requests, so the statement is compiled once per database. */
import { hot, perDatabase } from '../db/hot.js';
import type { DB } from '../db/index.js';
import type { UsersTable } from '../db/types.js';
import { Type } from '@sinclair/typebox';
import { NotFound } from '../rest/errors.js';
import { validateBody } from '../rest/validate.js';

const byId = perDatabase((db) =>
  hot<{ id: number }, UsersTable>(db, ['id'], (p) => db.selectFrom('users').selectAll().where('id', '=', p.id)),
);

export async function userById(db: DB, id: number): Promise<UsersTable | undefined> {
  return (await byId(db)({ id }))[0];
}

/**
 * The user an account body (`{"pk": …}`, authentik's UserAccountSerializer) names: a 400 on a bad body, a plain 404
 * for a pk no user has (DRF's IntegerField has no bounds: one no user can have is unknown like any other).
 */
export async function userOfAccountBody(db: DB, body: unknown): Promise<UsersTable> {
  const data = await validateBody({ pk: Type.Integer() }, body, { mode: 'create', db });
  const pk = data.pk as number;
  const user = pk >= -2147483648 && pk <= 2147483647 ? await userById(db, pk) : undefined;
  if (!user) throw NotFound.plain();
  return user;
}
