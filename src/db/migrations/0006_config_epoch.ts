import { sql, type Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';

/**
 * PostgreSQL: the configuration epoch's counter and the trigger function that advances it (config-epoch.ts puts the
 * trigger on the tables). SQLite needs neither: one process serves the file and `PRAGMA data_version` tells it of
 * other connections' commits.
 */
export const m0006_config_epoch: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    if (dialect !== 'postgres') return;
    await sql`create table keystage_config_epoch (id integer primary key, epoch bigint not null)`.execute(db);
    await sql`insert into keystage_config_epoch (id, epoch) values (1, 0)`.execute(db);
    await sql`create or replace function keystage_config_changed() returns trigger language plpgsql as $$
      begin
        update keystage_config_epoch set epoch = epoch + 1 where id = 1;
        return null;
      end $$`.execute(db);
  },
  async down(db: Kysely<any>) {
    if (dialect !== 'postgres') return;
    await sql`drop function if exists keystage_config_changed() cascade`.execute(db);
    await sql`drop table if exists keystage_config_epoch`.execute(db);
  },
});
