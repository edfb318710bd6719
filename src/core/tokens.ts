/** /core/tokens/: API tokens and app passwords, looked up by identifier; keys only through view_key. */
import { randomInt, randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { mountResource, type ResourceDef, type Tx } from '../api/resource.js';
import type { ApiRouter } from '../api/routes.js';
import { S, SLUG_PATTERN, type Props } from '../api/schema.js';
import { apiToRow, rowToApi } from '../api/serialize.js';
import { EmptyBadRequest, NotFound, ValidationError } from '../api/errors.js';
import { validateBody } from '../api/validate.js';
import type { DB } from '../db/index.js';
import type { TokensTable, UsersTable } from '../db/types.js';
import { renderUsers } from './users.js';
import { secretsOf, type Secrets } from './secrets.js';

export const INTENTS = ['verification', 'api', 'recovery', 'app_password'] as const;
const KEY_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const DAY_MS = 86_400_000;

export function generateKey(length = 60): string {
  let out = '';
  for (let i = 0; i < length; i++) out += KEY_ALPHABET[randomInt(KEY_ALPHABET.length)];
  return out;
}

export const tokenProps: Props = {
  pk: S.ro(S.uuid()),
  managed: S.str({ nullable: true, default: null, 'x-unique': { table: 'tokens', column: 'managed', self: 'token_uuid', message: 'Token with this managed already exists.' } }),
  identifier: S.str({ maxLength: 255, pattern: SLUG_PATTERN, 'x-slug': 'drf', 'x-unique': { table: 'tokens', column: 'identifier', self: 'token_uuid', message: 'Token with this identifier already exists.' } }),
  intent: S.enumOf(INTENTS, { 'x-optional': true }),
  user: S.intFk({ table: 'users', column: 'id' }, { 'x-optional': true }),
  user_obj: S.ro(Type.Unsafe({ $ref: '#/components/schemas/User', 'x-computed': true })),
  description: S.text({ default: '' }),
  expires: S.datetime({ nullable: true, default: null }),
  expiring: S.bool({ default: true }),
};

type Row = TokensTable & { pk: string };

/** how a key is stored: encrypted (read back by view_key only) and as a keyed hash (looked up by) */
export const storedKey = (secrets: Secrets, key: string) => ({ key: secrets.seal('tokens.key', key), key_hash: secrets.lookupHash(key) });

/** the key of a token row, decrypted */
export const tokenKey = (secrets: Secrets, row: Pick<TokensTable, 'key'>) => secrets.open('tokens.key', row.key);

export async function insertToken(tx: Tx, secrets: Secrets, values: Omit<TokensTable, 'token_uuid' | 'key' | 'key_hash'> & { key?: string }): Promise<string> {
  const key = values.key ?? generateKey();
  await tx
    .insertInto('tokens')
    .values({ ...values, token_uuid: randomUUID(), ...storedKey(secrets, key) })
    .execute();
  return values.identifier;
}

export function tokenResource(installId: string): ResourceDef<Row> {
  return {
    component: 'Token',
    model: 'Token',
    path: '/core/tokens',
    opPrefix: 'core_tokens',
    tag: 'core',
    lookup: { param: 'identifier', column: 'tokens.identifier', rowKey: 'identifier', type: 'slug' },
    props: tokenProps,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'owner', column: 'tokens.user_id' },
    list: {
      filters: {
        identifier: { type: 'str', column: 'tokens.identifier' },
        intent: { type: 'enum', column: 'tokens.intent', values: INTENTS },
        user__username: { type: 'str', column: 'users.username' },
        description: { type: 'str', column: 'tokens.description' },
        expires: { type: 'datetime', column: 'tokens.expires' },
        expiring: { type: 'bool', column: 'tokens.expiring' },
        managed: { type: 'str', column: 'tokens.managed' },
      },
      search: ['tokens.identifier', 'tokens.intent', 'users.username', 'tokens.description'],
      ordering: {
        identifier: 'tokens.identifier',
        expires: 'tokens.expires',
        intent: 'tokens.intent',
        description: 'tokens.description',
        expiring: 'tokens.expiring',
        managed: 'tokens.managed',
        pk: 'tokens.token_uuid',
      },
      defaultOrdering: ['identifier', 'expires'],
      pk: 'tokens.token_uuid',
    },
    select: (db) => db.selectFrom('tokens').innerJoin('users', 'users.id', 'tokens.user_id').selectAll('tokens').select('tokens.token_uuid as pk'),
    render: async (db, rows) => {
      const ids = [...new Set(rows.map((r) => r.user_id))];
      const users = ids.length ? ((await db.selectFrom('users').selectAll().select('id as pk').where('id', 'in', ids).execute()) as (UsersTable & { pk: number })[]) : [];
      const rendered = await renderUsers(db, users, installId);
      const byId = new Map(rendered.map((u) => [u.pk, u]));
      return rows.map((r) => ({ ...rowToApi(tokenProps, r), user: r.user_id, user_obj: byId.get(r.user_id) }));
    },
    validate: async (data, ctx, existing) => {
      const caller = ctx.caller;
      if (!existing) {
        data.intent ??= 'api';
        data.user ??= caller.user.id;
        if (!caller.superuser) {
          data.user = caller.user.id;
          const attrs = JSON.parse(caller.user.attributes || '{}') as Record<string, unknown>;
          data.expiring = attrs['goauthentik.io/user/token-expires'] !== false;
        }
      } else if (data.user !== undefined && data.user !== existing.user_id) {
        throw ValidationError.field('user', 'User cannot be changed');
      }
      const intent = (data.intent ?? existing?.intent) as string;
      if (data.intent !== undefined && intent !== 'api' && intent !== 'app_password') throw ValidationError.field('intent', `Invalid intent ${intent}`);
      // authentik overwrites an API token's expiry on every write, so an owner cannot push it out by sending `expires`
      if (intent === 'api') data.expires = new Date(Date.now() + DAY_MS).toISOString();
    },
    insert: (tx, data, ctx) =>
      insertToken(tx, secretsOf(ctx.db), {
        identifier: data.identifier as string,
        intent: data.intent as string,
        user_id: data.user as number,
        description: (data.description as string) ?? '',
        expires: (data.expires as string | null) ?? null,
        expiring: data.expiring === false ? 0 : 1,
        managed: (data.managed as string | null) ?? null,
      }),
    update: async (tx, existing, data) => {
      const { user: _user, ...rest } = data;
      const values = apiToRow(tokenProps, rest);
      if (Object.keys(values).length) await tx.updateTable('tokens').set(values as never).where('token_uuid', '=', existing.token_uuid).execute();
      return (data.identifier as string | undefined) ?? existing.identifier;
    },
    remove: async (tx, existing) => {
      await tx.deleteFrom('tokens').where('token_uuid', '=', existing.token_uuid).execute();
    },
    usedBy: async () => [],
  };
}

export function mountTokens(router: ApiRouter, db: DB, installId: string) {
  const { load } = mountResource(router, db, tokenResource(installId));
  const param = [{ name: 'identifier', schema: { type: 'string' } }];
  router.route(
    '/core/tokens/{identifier}/view_key',
    {
      get: {
        doc: { operationId: 'core_tokens_view_key_retrieve', tag: 'core', response: 'TokenView' },
        handler: async (req) => {
          const { row } = await load(req).catch((e) => {
            if (e instanceof NotFound) throw new NotFound('Token not found or expired');
            throw e;
          });
          await router.audit?.(req, 'secret_view', { token: { pk: row.token_uuid, identifier: row.identifier } });
          return { key: tokenKey(secretsOf(db), row) };
        },
      },
    },
    param,
  );
  router.route(
    '/core/tokens/{identifier}/set_key',
    {
      post: {
        doc: { operationId: 'core_tokens_set_key_create', tag: 'core', body: 'TokenSetKeyRequest', bodyRequired: true, status: 204 },
        handler: async (req, reply) => {
          const { row } = await load(req);
          // authentik: 400 with an empty body when the key is missing
          const sent = (req.body as { key?: unknown } | null)?.key;
          if (sent === undefined || sent === null || sent === '') throw new EmptyBadRequest();
          const data = await validateBody({ key: S.wo(S.str({ 'x-no-trim': true, maxLength: 1024 })) }, req.body, { mode: 'create', db });
          const key = data.key as string;
          await db.updateTable('tokens').set(storedKey(secretsOf(db), key)).where('token_uuid', '=', row.token_uuid).execute();
          await router.audit?.(req, 'secret_rotate', { token: { pk: row.token_uuid, identifier: row.identifier } });
          reply.code(204);
          return reply.send();
        },
      },
    },
    param,
  );
  router.component('TokenView', { type: 'object', properties: { key: { type: 'string', readOnly: true } }, required: ['key'] });
  router.component('TokenSetKeyRequest', { type: 'object', properties: { key: { type: 'string', minLength: 1, writeOnly: true } }, required: ['key'] });
}
