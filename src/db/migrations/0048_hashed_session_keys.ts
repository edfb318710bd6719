import { sql, type Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';
import { sessionKeyOf } from '../../sessions/session-hash.js';

/**
 * Session keys at rest become the SHA-256 of the cookie's token (src/sessions/session-hash.ts): each stored key is
 * put through that function once, so the cookies browsers hold keep working, and the `sid`s other tables and
 * applications know (the same hash, computed before) stay what they were. Keystage's tokens are 43 characters, a hash
 * 64: a key of 64 characters is taken as done. There is no way back (`down` leaves the hashes).
 */
export const m0048_hashed_session_keys: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    if (dialect === 'postgres') {
      await sql`update sessions set session_key = encode(sha256(convert_to(session_key, 'UTF8')), 'hex') where length(session_key) <> 64`.execute(
        db,
      );
      return;
    }
    for (;;) {
      const rows = await db.selectFrom('sessions').select('session_key').where(sql`length(session_key)`, '<>', 64).limit(1000).execute();
      if (!rows.length) return;
      for (const { session_key } of rows)
        await db
          .updateTable('sessions')
          .set({ session_key: sessionKeyOf(session_key) })
          .where('session_key', '=', session_key)
          .execute();
    }
  },
  async down() {},
});
