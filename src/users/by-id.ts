/** A user row by primary key — asked on most executor requests, so the statement is compiled once per database. */
import { hot, perDatabase } from '../db/hot.js';
import type { DB } from '../db/index.js';
import type { UsersTable } from '../db/types.js';

const byId = perDatabase((db) =>
  hot<{ id: number }, UsersTable>(db, ['id'], (p) => db.selectFrom('users').selectAll().where('id', '=', p.id)),
);

export async function userById(db: DB, id: number): Promise<UsersTable | undefined> {
  return (await byId(db)({ id }))[0];
}
