/**
 * /sources/telegram/ (authentik's TelegramSourceViewSet) with `connect_user/`: someone logged in connects the
 * Telegram account the login widget vouched for. The bot token is sealed at rest and never returned.
 */
import { Type } from '@sinclair/typebox';
import { mountResource, type ResourceDef, type WriteCtx } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { apiToRow } from '../../rest/serialize.js';
import { requireCaller } from '../../rest/auth.js';
import { Forbidden, NotFound, ValidationError } from '../../rest/errors.js';
import type { ColumnReference } from '../../rest/references.js';
import { secretsOf } from '../../instance/secrets.js';
import type { DB } from '../../db/index.js';
import type { Services } from '../../services.js';
import { baseSourceProps, GROUP_MATCHING_MODES } from '../schema.js';
import { checkMappings, type JsonListReference, renderSources, sourceFilters, typedSourceResource } from '../resource.js';
import { type SourceTypeDef, sourceMeta, typeCreate } from '../kinds.js';
import { mountTelegramSourceRoutes } from './routes.js';
import { linkConnection } from '../flow-manager.js';
import { checkTelegramAuth } from './auth.js';
import { BOT_TOKEN_FIELD, telegramSourceBySlug, type TelegramSource } from './source.js';
import { TELEGRAM_COLUMNS, telegramSourceProps } from './schema.js';
import { TelegramChallengeResponseRequest } from './stages/login/challenge.js';

const _props = { ...baseSourceProps, ...telegramSourceProps };
type Row = TelegramSource & { pk: string };

function telegramColumns(db: DB, data: Record<string, unknown>) {
  const own: Record<string, unknown> = {};
  for (const c of TELEGRAM_COLUMNS) if (data[c] !== undefined) own[c] = data[c];
  const cols = apiToRow(telegramSourceProps, own);
  if (typeof cols.bot_token === 'string') cols.bot_token = secretsOf(db).seal(BOT_TOKEN_FIELD, cols.bot_token as string);
  return cols;
}

export function telegramSourceResource(lists: () => JsonListReference[], columns: () => ColumnReference[]): ResourceDef<Row> {
  return typedSourceResource<Row>({
    type: 'telegram',
    label: 'Telegram',
    table: 'telegram_sources',
    alias: 't',
    props: telegramSourceProps,
    filters: {
      ...sourceFilters,
      group_matching_mode: { type: 'enum', column: 't.group_matching_mode', values: [...GROUP_MATCHING_MODES] },
      bot_username: { type: 'str', column: 't.bot_username' },
      request_message_access: { type: 'bool', column: 't.request_message_access' },
    },
    icon: '/static/authentik/sources/telegram.svg',
    hidden: ['bot_token'],
    validate: async (data: Record<string, unknown>, ctx: WriteCtx) => {
      await checkMappings(ctx.db, data, 'telegramsourcepropertymapping');
    },
    writes: { columns: telegramColumns, defaults: { request_message_access: 0, group_matching_mode: 'identifier' } },
    lists,
    references: columns,
  });
}

export function mountTelegramSource(router: ApiRouter, svc: Services, lists: () => JsonListReference[], columns: () => ColumnReference[]) {
  const { component: _component, ...authFields } = TelegramChallengeResponseRequest.properties;
  router.component('TelegramAuthRequest', Type.Object(authFields) as never);
  router.route(
    '/sources/telegram/{slug}/connect_user',
    {
      post: {
        doc: {
          operationId: 'sources_telegram_connect_user_create',
          tag: 'sources',
          body: 'TelegramAuthRequest',
          bodyRequired: true,
          response: 'UserTelegramSourceConnection',
          status: 201,
        },
        // any logged-in user (authentik's IsAuthenticated): their own account
        handler: async (req, reply) => {
          const caller = requireCaller(req);
          const source = await telegramSourceBySlug(svc.db, (req.params as { slug: string }).slug);
          if (!source) throw NotFound.plain();
          const body = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};
          const checked = checkTelegramAuth(body, secretsOf(svc.db).open(BOT_TOKEN_FIELD, source.bot_token));
          if (!checked.ok) throw new ValidationError(checked.errors);
          const identifier = String(checked.identity.id);
          const owner = await svc.db
            .selectFrom('user_source_connections')
            .select('user_id')
            .where('source_uuid', '=', source.source_uuid)
            .where('identifier', '=', identifier)
            .executeTakeFirst();
          if (owner && Number(owner.user_id) !== caller.user.id)
            throw new Forbidden('This Telegram account is already connected to another user.');
          const connection = { source: source.source_uuid, identifier, accessToken: null, expires: new Date().toISOString() };
          // (false: the account raced to another user, or this user has another Telegram account at the source)
          if (!(await linkConnection(svc, caller.user, connection, req.ip)))
            throw new Forbidden('This Telegram account is already connected to another user.');
          const row = await svc.db
            .selectFrom('user_source_connections')
            .selectAll()
            .where('source_uuid', '=', source.source_uuid)
            .where('identifier', '=', identifier)
            .executeTakeFirstOrThrow();
          const [rendered] = await renderSources(svc.db, [{ ...source, pk: source.source_uuid }]);
          reply.code(201);
          return {
            pk: Number(row.id),
            user: Number(row.user_id),
            source: source.source_uuid,
            source_obj: { ...rendered, ...sourceMeta(telegramSourceType) },
            identifier: row.identifier,
            created: row.created,
            last_updated: row.last_updated,
          };
        },
      },
    },
    [{ name: 'slug', schema: { type: 'string', description: 'Internal source name, used in URLs.' } }],
  );
  mountResource(router, svc.db, telegramSourceResource(lists, columns));
}

export const telegramSourceType: SourceTypeDef = {
  type: 'telegram',
  label: 'Telegram',
  creatable: () => [typeCreate(telegramSourceType, 'Log in with Telegram.', 'telegram.svg')],
  mount: (router, svc, refs) => mountTelegramSource(router, svc, refs.lists, refs.columns),
  routes: mountTelegramSourceRoutes,
  secretColumns: [{ table: 'telegram_sources', pk: 'source_uuid', column: 'bot_token' }],
};
