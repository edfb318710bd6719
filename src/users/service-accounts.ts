/**
 * authentik's user actions beyond the resource: `service_account` (a service account with an app password in one
 * transaction) and `paths` (the users' distinct paths).
 */
import { sql } from 'kysely';
import { insertGroup } from '../groups/store.js';
import { type Secrets, secretsOf } from '../instance/secrets.js';
import { can, hasGlobal, objectsWith, requirePermission } from '../rbac/check.js';
import { Forbidden, ValidationError } from '../rest/errors.js';
import { requireCaller } from '../rest/auth.js';
import { filtered } from '../rest/list.js';
import type { ResourceDef, Tx } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import { slugify } from '../rest/slugify.js';
import { validateBody } from '../rest/validate.js';
import type { Services } from '../services.js';
import { generateKey, insertToken, USER_ATTRIBUTE_TOKEN_EXPIRING } from '../tokens/tokens.js';
import { systemSettings } from '../instance/system-settings/store.js';
import { uidOf } from './render.js';
import { insertUser } from './store.js';

export const USER_PATH_SERVICE_ACCOUNT = 'goauthentik.io/service-accounts';
const DAY_MS = 86_400_000;

/**
 * An object's own service account and API token (a SCIM source's, an SSF provider's: authentik's post_save signals
 * making them): an internal service account `identifier` (made unless it exists: a token deleted by hand is made
 * again for it) holding a new non-expiring API token of that identifier, `managed` by the object. In the object's
 * transaction; returns the token's uuid.
 */
export async function insertManagedAccount(
  tx: Tx,
  secrets: Secrets,
  a: { identifier: string; name: string; path: string; managed: string },
): Promise<string> {
  const existing = await tx.selectFrom('users').select('id').where('username', '=', a.identifier).executeTakeFirst();
  const userId =
    existing?.id ?? (await insertUser(tx, { username: a.identifier, name: a.name, type: 'internal_service_account', path: a.path }));
  await insertToken(tx, secrets, {
    identifier: a.identifier,
    intent: 'api',
    user_id: userId,
    description: '',
    expires: null,
    expiring: 0,
    managed: a.managed,
    key: generateKey((await systemSettings(tx)).default_token_length),
  });
  const token = await tx.selectFrom('tokens').select('token_uuid').where('identifier', '=', a.identifier).executeTakeFirstOrThrow();
  return token.token_uuid;
}

export function mountUserActions(router: ApiRouter, svc: Services, list: ResourceDef['list']) {
  const { db } = svc;

  router.route('/core/users/service_account', {
    post: {
      doc: {
        operationId: 'core_users_service_account_create',
        tag: 'core',
        body: 'UserServiceAccountRequest',
        bodyRequired: true,
        response: 'UserServiceAccountResponse',
      },
      handler: async (req) => {
        await requirePermission(db, req, 'authentik_core.add_user');
        const caller = await requirePermission(db, req, 'authentik_core.add_token');
        const data = await validateBody(
          {
            name: S.str(),
            create_group: S.bool({ default: false }),
            expiring: S.bool({ default: true }),
            expires: S.datetime({ 'x-optional': true }),
          },
          req.body,
          { mode: 'create', db },
        );
        const username = data.name as string;
        const expiring = data.expiring as boolean;
        const expires = (data.expires as string | undefined) ?? new Date(Date.now() + 360 * DAY_MS).toISOString();
        const withGroup = (data.create_group as boolean) && (await can(db, caller, 'authentik_core.add_group'));
        const identifier = slugify(`service-account-${username}-password`);
        // authentik: a taken username is the name field's error; another unique clash (the group or the token) this
        // one non-field message
        const clash = async () => {
          const user = await db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst();
          if (user) throw ValidationError.field('name', 'This field must be unique.');
          const token = await db.selectFrom('tokens').select('token_uuid').where('identifier', '=', identifier).executeTakeFirst();
          const group = withGroup
            ? await db.selectFrom('groups').select('group_uuid').where('name', '=', username).executeTakeFirst()
            : undefined;
          return !!(token || group);
        };
        if (await clash()) throw ValidationError.nonField('A user/group with these details already exists');
        const key = generateKey((await systemSettings(db)).default_token_length);
        let made: { id: number; group?: string };
        try {
          made = await db.transaction().execute(async (tx) => {
            const id = await insertUser(tx, {
              username,
              name: username,
              type: 'service_account',
              path: USER_PATH_SERVICE_ACCOUNT,
              attributes: { [USER_ATTRIBUTE_TOKEN_EXPIRING]: expiring },
            });
            // the group holds the account (authentik's Group.objects.create + users.add)
            const group = withGroup ? await insertGroup(tx, { name: username, users: [id] }) : undefined;
            await insertToken(tx, secretsOf(db), {
              identifier,
              intent: 'app_password',
              user_id: id,
              description: '',
              expires,
              expiring: expiring ? 1 : 0,
              managed: null,
              key,
            });
            return { id, ...(group ? { group } : {}) };
          });
        } catch (e) {
          // a parallel request took the name meanwhile
          if (await clash()) throw ValidationError.nonField('A user/group with these details already exists');
          throw e;
        }
        await router.audit?.(req, 'model_created', {
          model: { app: 'authentik_core', model_name: 'user', pk: made.id, name: username },
        });
        return {
          username,
          user_uid: uidOf(made.id, svc.installId),
          user_pk: made.id,
          ...(made.group ? { group_pk: made.group } : {}),
          token: key,
        };
      },
    },
  });
  router.component('UserServiceAccountRequest', {
    type: 'object',
    description: 'Payload to create a service account',
    properties: {
      name: { type: 'string', minLength: 1 },
      create_group: { type: 'boolean', default: false },
      expiring: { type: 'boolean', default: true },
      expires: { type: 'string', format: 'date-time', description: 'If not provided, valid for 360 days' },
    },
    required: ['name'],
  });
  router.component('UserServiceAccountResponse', {
    type: 'object',
    properties: {
      username: { type: 'string' },
      token: { type: 'string' },
      user_uid: { type: 'string' },
      user_pk: { type: 'integer' },
      group_pk: { type: 'string' },
    },
    required: ['token', 'user_pk', 'user_uid', 'username'],
  });

  router.route('/core/users/paths', {
    get: {
      doc: {
        operationId: 'core_users_paths_retrieve',
        tag: 'core',
        query: [{ name: 'search', schema: { type: 'string' } }],
        response: 'UserPath',
      },
      handler: async (req) => {
        // view_user for every user, or on some: those users' paths (authentik filters the queryset by object permissions)
        const caller = requireCaller(req);
        let q = db.selectFrom('users').select('path').distinct();
        if (!(await hasGlobal(db, caller, 'authentik_core.view_user'))) {
          const ids = [...(await objectsWith(db, caller, 'authentik_core.view_user'))].map(Number);
          if (!ids.length) throw Forbidden.permission();
          q = q.where('id', 'in', ids);
        }
        const search = (req.query as Record<string, string | undefined>).search;
        if (search) q = await filtered(db, q, list, { search });
        const rows = await q.orderBy(sql.ref('path')).execute();
        return { paths: rows.map((r) => r.path) };
      },
    },
  });
  router.component('UserPath', {
    type: 'object',
    properties: { paths: { type: 'array', items: { type: 'string' }, readOnly: true } },
    required: ['paths'],
  });
}
