/**
 * First start: the superuser group, `akadmin` and the bootstrap API token, from KEYSTAGE_BOOTSTRAP_* (or
 * AUTHENTIK_BOOTSTRAP_*). Idempotent and safe when several nodes start at once.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import type { DB } from '../db/index.js';
import { hashPassword } from './passwords.js';
import { insertUser } from './users.js';
import { insertToken, storedKey } from './tokens.js';
import { secretsOf } from './secrets.js';

export const ADMIN_GROUP = 'authentik Admins';
export const BOOTSTRAP_TOKEN_IDENTIFIER = 'authentik-bootstrap-token';

export async function ensureAdminGroup(db: DB): Promise<string> {
  const existing = await db.selectFrom('groups').select('group_uuid').where('name', '=', ADMIN_GROUP).executeTakeFirst();
  if (existing) return existing.group_uuid;
  const group_uuid = randomUUID();
  await db
    .insertInto('groups')
    .values({ group_uuid, num_pk: 1, name: ADMIN_GROUP, is_superuser: 1, attributes: '{}' })
    .onConflict((oc) => oc.doNothing())
    .execute();
  return (await db.selectFrom('groups').select('group_uuid').where('name', '=', ADMIN_GROUP).executeTakeFirstOrThrow()).group_uuid;
}

export async function bootstrap(db: DB, cfg: Config): Promise<void> {
  const group = await ensureAdminGroup(db);
  const existing = await db.selectFrom('users').select('id').where('username', '=', 'akadmin').executeTakeFirst();
  let userId = existing?.id;
  if (userId === undefined && (cfg.bootstrapPassword || cfg.bootstrapToken)) {
    const password = cfg.bootstrapPassword ? await hashPassword(cfg.bootstrapPassword, cfg.argon2) : undefined;
    try {
      userId = await db.transaction().execute(async (tx) => {
        const id = await insertUser(tx, { username: 'akadmin', name: 'authentik Default Admin', email: cfg.bootstrapEmail ?? '' }, password);
        await tx.insertInto('user_groups').values({ user_id: id, group_uuid: group }).execute();
        return id;
      });
    } catch {
      // another node created it first
      userId = (await db.selectFrom('users').select('id').where('username', '=', 'akadmin').executeTakeFirst())?.id;
    }
  }
  if (userId !== undefined && cfg.bootstrapToken) {
    const token = await db.selectFrom('tokens').select(['token_uuid', 'key_hash']).where('identifier', '=', BOOTSTRAP_TOKEN_IDENTIFIER).executeTakeFirst();
    if (!token) {
      await db
        .transaction()
        .execute((tx) =>
          insertToken(tx, secretsOf(db), {
            identifier: BOOTSTRAP_TOKEN_IDENTIFIER,
            key: cfg.bootstrapToken,
            intent: 'api',
            user_id: userId!,
            description: 'Bootstrap token',
            expires: null,
            expiring: 0,
            managed: 'goauthentik.io/bootstrap/token',
          }),
        )
        .catch(() => undefined);
    } else if (token.key_hash !== secretsOf(db).lookupHash(cfg.bootstrapToken)) {
      await db.updateTable('tokens').set(storedKey(secretsOf(db), cfg.bootstrapToken)).where('token_uuid', '=', token.token_uuid).execute();
    }
  }
}
