/** A source of one type read with its settings row (`sources` joined to the type's table), by slug or uuid. */
import type { Kysely } from 'kysely';
import type { DB } from '../db/index.js';

export async function typedSourceRow<T>(
  db: DB,
  kind: string,
  table: string,
  by: { slug: string } | { uuid: string },
): Promise<T | undefined> {
  const q = (db as unknown as Kysely<any>)
    .selectFrom('sources as s')
    .innerJoin(`${table} as x`, 'x.source_uuid', 's.source_uuid')
    .selectAll('s')
    .selectAll('x')
    .where('s.kind', '=', kind);
  return (await ('slug' in by ? q.where('s.slug', '=', by.slug) : q.where('s.source_uuid', '=', by.uuid)).executeTakeFirst()) as
    | T
    | undefined;
}
