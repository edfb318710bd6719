/**
 * First start: the superuser group, `akadmin` and the bootstrap API token, from KEYSTAGE_BOOTSTRAP_* (or
 * AUTHENTIK_BOOTSTRAP_*). Idempotent and safe when several nodes start at once.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import type { DB } from '../db/index.js';
import { hashPassword } from '../auth/passwords.js';
import { insertUser } from '../users/store.js';
import { newGroupIdentity } from '../groups/store.js';
import { generateKey, insertToken, storedKey } from '../tokens/tokens.js';
import { secretsOf } from './secrets.js';

export const ADMIN_GROUP = 'authentik Admins';
export const BOOTSTRAP_TOKEN_IDENTIFIER = 'authentik-bootstrap-token';
export const BOOTSTRAP_TOKEN_MANAGED = 'goauthentik.io/bootstrap/token';

/** where bootstrap reports what it could not do (a pino logger fits) */
export interface BootstrapLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const silent: BootstrapLog = { warn: () => {}, error: () => {} };

export async function ensureAdminGroup(db: DB): Promise<string> {
  const existing = await db.selectFrom('groups').select('group_uuid').where('name', '=', ADMIN_GROUP).executeTakeFirst();
  if (existing) return existing.group_uuid;
  await db
    .insertInto('groups')
    .values({ ...(await newGroupIdentity(db)), name: ADMIN_GROUP, is_superuser: 1, attributes: '{}' })
    .onConflict((oc) => oc.doNothing())
    .execute();
  return (await db.selectFrom('groups').select('group_uuid').where('name', '=', ADMIN_GROUP).executeTakeFirstOrThrow()).group_uuid;
}

/**
 * The bootstrap token is `akadmin`'s token with the bootstrap's managed id — found by those two only, never by its
 * identifier, which any user may have taken for a token of their own. Another user's token that carries the managed
 * id (written before `managed` became read-only) loses it; one that holds the bootstrap key gets a fresh key.
 */
async function writeBootstrapToken(db: DB, userId: number, key: string, log: BootstrapLog): Promise<void> {
  const secrets = secretsOf(db);
  const keyHash = secrets.lookupHash(key);
  await db.transaction().execute(async (tx) => {
    const stray = await tx
      .selectFrom('tokens')
      .select(['token_uuid', 'identifier', 'managed', 'key_hash'])
      .where('user_id', '<>', userId)
      .where((eb) => eb.or([eb('managed', '=', BOOTSTRAP_TOKEN_MANAGED), eb('key_hash', '=', keyHash)]))
      .execute();
    for (const t of stray) {
      log.warn({ token: t.identifier }, "bootstrap: a token of another user carried the bootstrap token's managed id or key; cleared");
      const fresh = generateKey();
      const values = t.key_hash === keyHash ? { managed: null, ...storedKey(secrets, fresh) } : { managed: null };
      await tx.updateTable('tokens').set(values).where('token_uuid', '=', t.token_uuid).execute();
    }
    const token = await tx
      .selectFrom('tokens')
      .select(['token_uuid', 'key_hash'])
      .where('user_id', '=', userId)
      .where('managed', '=', BOOTSTRAP_TOKEN_MANAGED)
      .executeTakeFirst();
    if (token) {
      if (token.key_hash !== keyHash)
        await tx.updateTable('tokens').set(storedKey(secrets, key)).where('token_uuid', '=', token.token_uuid).execute();
      return;
    }
    const taken = await tx
      .selectFrom('tokens')
      .select('token_uuid')
      .where('identifier', '=', BOOTSTRAP_TOKEN_IDENTIFIER)
      .executeTakeFirst();
    await insertToken(tx, secrets, {
      identifier: taken ? `${BOOTSTRAP_TOKEN_IDENTIFIER}-${randomBytes(4).toString('hex')}` : BOOTSTRAP_TOKEN_IDENTIFIER,
      key,
      intent: 'api',
      user_id: userId,
      description: 'Bootstrap token',
      expires: null,
      expiring: 0,
      managed: BOOTSTRAP_TOKEN_MANAGED,
    });
  });
}

export async function bootstrap(db: DB, cfg: Config, log: BootstrapLog = silent): Promise<void> {
  const group = await ensureAdminGroup(db);
  const existing = await db.selectFrom('users').select('id').where('username', '=', 'akadmin').executeTakeFirst();
  let userId = existing?.id;
  if (userId === undefined && (cfg.bootstrapPassword || cfg.bootstrapToken)) {
    const password = cfg.bootstrapPassword ? await hashPassword(cfg.bootstrapPassword, cfg.argon2) : undefined;
    try {
      userId = await db.transaction().execute(async (tx) => {
        const id = await insertUser(
          tx,
          { username: 'akadmin', name: 'authentik Default Admin', email: cfg.bootstrapEmail ?? '' },
          password,
        );
        await tx.insertInto('user_groups').values({ user_id: id, group_uuid: group }).execute();
        return id;
      });
    } catch (err) {
      // another node created it first
      userId = (await db.selectFrom('users').select('id').where('username', '=', 'akadmin').executeTakeFirst())?.id;
      if (userId === undefined) log.error({ err }, 'bootstrap: could not create akadmin');
    }
  }
  if (userId !== undefined && cfg.bootstrapToken) {
    const key = cfg.bootstrapToken;
    try {
      await writeBootstrapToken(db, userId, key, log);
    } catch (err) {
      // another node may have written it at the same moment: fine when akadmin's token now holds the key
      const done = await db
        .selectFrom('tokens')
        .select('token_uuid')
        .where('user_id', '=', userId)
        .where('managed', '=', BOOTSTRAP_TOKEN_MANAGED)
        .where('key_hash', '=', secretsOf(db).lookupHash(key))
        .executeTakeFirst();
      if (!done) log.error({ err }, 'bootstrap: could not write the bootstrap token');
    }
  }
}
