/** /core/tokens/: API tokens and app passwords, looked up by identifier; keys only through view_key. */
import { lockConfigEpoch } from '../db/config-epoch.js';
import { registerModel } from '../rbac/catalogue.js';
import { hasGlobal } from '../rbac/check.js';
import { durationMs, systemSettings } from '../instance/system-settings/store.js';
import { randomInt, randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { mountResource, type ResourceDef, type Tx } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S, SLUG_PATTERN, type Props } from '../rest/schema.js';
import { apiToRow, rowToApi } from '../rest/serialize.js';
import { EmptyBadRequest, Forbidden, NotFound, ValidationError } from '../rest/errors.js';
import { parseDuration } from '../rest/duration.js';
import { validateBody } from '../rest/validate.js';
import type { DB } from '../db/index.js';
import type { TokensTable, UsersTable } from '../db/types.js';
import { renderUsers } from '../users/render.js';
import { groupAttributes } from '../groups/membership.js';
import { secretsOf, type Secrets } from '../instance/secrets.js';
import type { Services } from '../services.js';

// tokens are each owner's (the resource's access); the model's permissions exist for what asks them, as authentik's
// `add_token` for a service account's app password (src/users/service-accounts.ts)
registerModel({
  label: 'authentik_core.token',
  verbose: 'Token',
  extra: [
    ['view_token_key', "View token's key"],
    ['set_token_key', "Set a token's key"],
  ],
});

export const INTENTS = ['verification', 'api', 'recovery', 'app_password'] as const;
const KEY_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** authentik's `default_token_duration` (the brand default, `days=1`) */
export const USER_ATTRIBUTE_TOKEN_EXPIRING = 'goauthentik.io/user/token-expires';
export const USER_ATTRIBUTE_TOKEN_MAXIMUM_LIFETIME = 'goauthentik.io/user/token-maximum-lifetime';
/** shortest key `set_key` accepts (generated keys have 60 characters) */
export const MIN_KEY_LENGTH = 32;
/** where a new token's key waits between validation and the insert (no field of the body: validated data never has it) */
const KEY_OF_NEW = '__new_key';

/**
 * authentik's maximum lifetime of a user's app passwords: `goauthentik.io/user/token-maximum-lifetime` from the
 * user's merged attributes (every group they are a member of, parents included, by name, then their own), a
 * timedelta string; else the default duration.
 */
export async function maximumTokenLifetimeMs(db: DB, userId: number, brandAttributes?: Record<string, unknown>): Promise<number> {
  const user = await db.selectFrom('users').select('attributes').where('id', '=', userId).executeTakeFirst();
  const value = (await groupAttributes(db, userId, user?.attributes ?? '{}', undefined, brandAttributes))[
    USER_ATTRIBUTE_TOKEN_MAXIMUM_LIFETIME
  ];
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  return ms ?? (await defaultTokenDurationMs(db));
}

/** the system settings' `default_token_duration` (authentik's Token expiry default): a token's lifetime unless set */
export async function defaultTokenDurationMs(db: DB): Promise<number> {
  return durationMs((await systemSettings(db)).default_token_duration, 86_400_000);
}

/** a datetime as Python prints an aware UTC one (`2026-12-01 18:15:45.123000+00:00`) */
const pythonDatetime = (d: Date) => `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 23)}000+00:00`;

export function generateKey(length = 60): string {
  let out = '';
  for (let i = 0; i < length; i++) out += KEY_ALPHABET[randomInt(KEY_ALPHABET.length)];
  return out;
}

export const tokenProps: Props = {
  pk: S.ro(S.uuid()),
  // authentik's ManagedSerializer: shown, never written through the API (a sent value is ignored)
  managed: S.ro(S.str({ nullable: true })),
  identifier: S.str({
    maxLength: 255,
    pattern: SLUG_PATTERN,
    'x-slug': 'drf',
    'x-unique': { table: 'tokens', column: 'identifier', self: 'token_uuid', message: 'Token with this identifier already exists.' },
  }),
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

export async function insertToken(
  tx: Tx,
  secrets: Secrets,
  values: Omit<TokensTable, 'token_uuid' | 'key' | 'key_hash'> & { key?: string },
): Promise<string> {
  const key = values.key ?? generateKey();
  await tx
    .insertInto('tokens')
    .values({ ...values, token_uuid: randomUUID(), ...storedKey(secrets, key) })
    .execute();
  return values.identifier;
}

/** the attributes of the brand a request came through (authentik's group_attributes(request) merges them first) */
type BrandAttributesOf = (host: string, db: DB) => Promise<Record<string, unknown>>;

export function tokenResource(installId: string, brandAttributesOf?: BrandAttributesOf): ResourceDef<Row> {
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
    select: (db) =>
      db.selectFrom('tokens').innerJoin('users', 'users.id', 'tokens.user_id').selectAll('tokens').select('tokens.token_uuid as pk'),
    render: async (db, rows) => {
      const ids = [...new Set(rows.map((r) => r.user_id))];
      const users = ids.length
        ? ((await db.selectFrom('users').selectAll().select('id as pk').where('id', 'in', ids).execute()) as (UsersTable & {
            pk: number;
          })[])
        : [];
      const rendered = await renderUsers(db, users, installId);
      const byId = new Map(rendered.map((u) => [u.pk, u]));
      return rows.map((r) => ({ ...rowToApi(tokenProps, r), user: r.user_id, user_obj: byId.get(r.user_id) }));
    },
    validate: async (data, ctx, existing) => {
      const caller = ctx.caller;
      if (!existing) {
        data[KEY_OF_NEW] = generateKey((await systemSettings(ctx.db)).default_token_length);
        data.intent ??= 'api';
        data.user ??= caller.user.id;
        if (!caller.superuser) data.user = caller.user.id;
      } else if (data.user !== undefined && data.user !== existing.user_id) {
        throw ValidationError.field('user', 'User cannot be changed');
      }
      // a user who is not a superuser gets the expiry their `token-expires` attribute says, on every write that sends it
      if (!caller.superuser && (!existing || data.expiring !== undefined)) {
        const attrs = JSON.parse(caller.user.attributes || '{}') as Record<string, unknown>;
        data.expiring = attrs[USER_ATTRIBUTE_TOKEN_EXPIRING] !== false;
      }
      const intent = (data.intent ?? existing?.intent) as string;
      if (data.intent !== undefined && intent !== 'api' && intent !== 'app_password')
        throw ValidationError.field('intent', `Invalid intent ${intent}`);
      // authentik overwrites an API token's expiry on every write, so an owner cannot push it out by sending `expires`
      const lifetime = await defaultTokenDurationMs(ctx.db);
      if (intent === 'api') data.expires = new Date(Date.now() + lifetime).toISOString();
      if (intent === 'app_password') {
        const owner = (existing?.user_id ?? data.user) as number;
        const brand = brandAttributesOf ? await brandAttributesOf(ctx.req.host, ctx.db) : undefined;
        const max = Date.now() + (await maximumTokenLifetimeMs(ctx.db, owner, brand));
        // as authentik's model default: an app password created without an expiry expires after the default duration
        if (!existing && (data.expires === undefined || data.expires === null))
          data.expires = new Date(Math.min(Date.now() + lifetime, max)).toISOString();
        if (typeof data.expires === 'string' && new Date(data.expires).getTime() > max)
          throw ValidationError.field('expires', `Token expires exceeds maximum lifetime (${pythonDatetime(new Date(max))} UTC).`);
      }
    },
    insert: async (tx, data, ctx) =>
      insertToken(tx, secretsOf(ctx.db), {
        // (the key's length is the system settings' `default_token_length`, read before the transaction)
        key: data[KEY_OF_NEW] as string,
        identifier: data.identifier as string,
        intent: data.intent as string,
        user_id: data.user as number,
        description: (data.description as string) ?? '',
        expires: (data.expires as string | null) ?? null,
        expiring: data.expiring === false ? 0 : 1,
        managed: null,
      }),
    update: async (tx, existing, data) => {
      const { user: _user, ...rest } = data;
      const values = apiToRow(tokenProps, rest);
      if (Object.keys(values).length)
        await tx
          .updateTable('tokens')
          .set(values as never)
          .where('token_uuid', '=', existing.token_uuid)
          .execute();
      return (data.identifier as string | undefined) ?? existing.identifier;
    },
    remove: async (tx, existing) => {
      await tx.deleteFrom('tokens').where('token_uuid', '=', existing.token_uuid).execute();
    },
    usedBy: async () => [],
  };
}

/** Token objects (the API's rendering, key not included) by token uuid: an owner's `token_obj` (a SCIM source's, an SSF provider's) */
export async function tokensByUuid(db: DB, installId: string, uuids: string[]): Promise<Map<string, Record<string, unknown>>> {
  const def = tokenResource(installId);
  if (!uuids.length) return new Map();
  const rows = await def.select(db).where('tokens.token_uuid', 'in', uuids).execute();
  const rendered = await def.render(db, rows as never, undefined as never);
  return new Map(rendered.map((t, i) => [String((rows[i] as { token_uuid: string }).token_uuid), t]));
}

/** a token as authentik's model_to_dict names it in events */
const tokenModel = (row: { token_uuid: string; identifier: string }) => ({
  app: 'authentik_core',
  model_name: 'token',
  pk: row.token_uuid,
  name: row.identifier,
});

export function mountTokens(router: ApiRouter, svc: Services) {
  const { db, installId } = svc;
  const brandAttributesOf: BrandAttributesOf = async (host, q) => (await svc.brand(host, q.isTransaction ? q : undefined)).attributes;
  const { load } = mountResource(router, db, tokenResource(installId, brandAttributesOf));
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
          // authentik's Event.new(SECRET_VIEW, secret=token): the token as a model
          await router.audit?.(req, 'secret_view', { secret: tokenModel(row) });
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
          const { row, caller } = await load(req);
          // authentik's permission_required("authentik_core.set_token_key"): an owner is not given it; a role may grant it
          if (!(await hasGlobal(db, caller, 'authentik_core.set_token_key'))) throw Forbidden.permission();
          // authentik: 400 with an empty body when the key is missing
          const sent = (req.body as { key?: unknown } | null)?.key;
          if (sent === undefined || sent === null || sent === '') throw new EmptyBadRequest();
          const data = await validateBody({ key: S.wo(S.str({ 'x-no-trim': true, maxLength: 1024 })) }, req.body, { mode: 'create', db });
          const key = data.key as string;
          if (key.length < MIN_KEY_LENGTH)
            throw ValidationError.field('key', `Ensure this field has at least ${MIN_KEY_LENGTH} characters.`);
          const stored = storedKey(secretsOf(db), key);
          await db.transaction().execute(async (tx) => {
            // under the admin-write lock: two tokens given one key at once cannot both find it free
            await lockConfigEpoch(tx);
            const clash = await tx
              .selectFrom('tokens')
              .select('token_uuid')
              .where('key_hash', '=', stored.key_hash)
              .where('token_uuid', '<>', row.token_uuid)
              .executeTakeFirst();
            if (clash) throw ValidationError.field('key', 'Token with this key already exists.');
            await tx.updateTable('tokens').set(stored).where('token_uuid', '=', row.token_uuid).execute();
          });
          // authentik's Event.new(MODEL_UPDATED, model=model_to_dict(token))
          await router.audit?.(req, 'model_updated', { model: tokenModel(row) });
          reply.code(204);
          return reply.send();
        },
      },
    },
    param,
  );
  router.component('TokenView', { type: 'object', properties: { key: { type: 'string', readOnly: true } }, required: ['key'] });
  router.component('TokenSetKeyRequest', {
    type: 'object',
    properties: { key: { type: 'string', minLength: 1, writeOnly: true } },
    required: ['key'],
  });
}
