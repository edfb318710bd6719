/** A user row by primary key — asked on most executor requests, so the statement is compiled once per database. */
import { hot, type Hot } from '../db/hot.js';
import type { DB } from '../db/index.js';
import type { UsersTable } from '../db/types.js';

const compiled = new WeakMap<DB, Hot<{ id: number }, UsersTable>>();

export async function userById(db: DB, id: number): Promise<UsersTable | undefined> {
  let q = compiled.get(db);
  if (!q) compiled.set(db, (q = hot<{ id: number }, UsersTable>(db, ['id'], (p) => db.selectFrom('users').selectAll().where('id', '=', p.id))));
  return (await q({ id }))[0];
}
