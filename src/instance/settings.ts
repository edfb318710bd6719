/** Instance-wide values kept in the database (install id, generated secret key), created once, shared by all nodes. */
import { randomBytes, randomUUID } from 'node:crypto';
import type { DB } from '../db/index.js';

export async function getOrCreateSetting(db: DB, key: string, make: () => string): Promise<string> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  if (row) return row.value;
  await db
    .insertInto('settings')
    .values({ key, value: make() })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const again = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirstOrThrow();
  return again.value;
}

/** the secret key generated into the database by a first start without KEYSTAGE_SECRET_KEY (made now if missing) */
export function generatedSecretKey(db: DB): Promise<string> {
  return getOrCreateSetting(db, 'secret_key', () => randomBytes(48).toString('base64url'));
}

export interface InstanceSettings {
  installId: string;
  secretKey: string;
  /**
   * the generated key kept in the database when KEYSTAGE_SECRET_KEY is set but a key was generated before (the
   * instance once ran without it): secrets encrypted under it are re-encrypted under the configured one at start
   */
  generatedKey: string | undefined;
}

export async function loadInstanceSettings(db: DB, configuredSecret: string | undefined): Promise<InstanceSettings> {
  const installId = await getOrCreateSetting(db, 'install_id', () => randomUUID());
  if (configuredSecret === undefined)
    return {
      installId,
      secretKey: await generatedSecretKey(db),
      generatedKey: undefined,
    };
  const generated = await db.selectFrom('settings').select('value').where('key', '=', 'secret_key').executeTakeFirst();
  return { installId, secretKey: configuredSecret, generatedKey: generated?.value };
}
