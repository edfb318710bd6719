/**
 * /sources/plex/ (authentik's PlexSourceViewSet) with `redeem_token/` — a Plex token the login page obtained from
 * plex.tv, checked there (a friend of the owner, or a member of an allowed server) and handed to the flow manager,
 * answered with the redirect to the source's flow — and `redeem_token_authenticated/` (someone logged in connects
 * their Plex account). The owner's Plex token is sealed at rest and never returned; the person's is kept sealed on
 * their connection.
 */
import type { JsonObject } from '../../expressions/index.js';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { mountResource, type ResourceDef } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { apiToRow } from '../../rest/serialize.js';
import { requireCaller } from '../../rest/auth.js';
import { Forbidden, NotFound, ValidationError } from '../../rest/errors.js';
import type { ColumnReference } from '../../rest/references.js';
import { secretsOf } from '../../instance/secrets.js';
import type { DB } from '../../db/index.js';
import type { Services } from '../../services.js';
import { baseSourceProps, GROUP_MATCHING_MODES } from '../schema.js';
import { checkMappings, type JsonListReference, sourceFilters, typedSourceResource } from '../resource.js';
import { type SourceTypeDef, typeCreate } from '../kinds.js';
import { linkConnection, sourceFlow, type Vouched } from '../flow-manager.js';
import { mapGroups, mapProperties, sourceMappings } from '../mappings.js';
import type { SourcesTable } from '../table.js';
import type { PlexSourcesTable } from './table.js';
import { typedSourceRow } from '../rows.js';
import { mayLogIn, PlexError, plexUser } from './api.js';
import { newClientId, PLEX_COLUMNS, plexSourceProps } from './schema.js';

export const PLEX_KIND = 'plexsource';
const TOKEN_FIELD = 'plex_sources.plex_token';
const CONNECTION_TOKEN = 'user_source_connections.access_token';
const _props = { ...baseSourceProps, ...plexSourceProps };
type Source = SourcesTable & PlexSourcesTable;
type Row = Source & { pk: string };

function plexColumns(db: DB, data: Record<string, unknown>) {
  const own: Record<string, unknown> = {};
  for (const c of PLEX_COLUMNS) if (data[c] !== undefined) own[c] = data[c];
  // (a client id not given is made at creation: the defaults)
  if (own.client_id === null || own.client_id === '') delete own.client_id;
  // (the owner's token reads back as "": sent back unchanged, it keeps the token)
  if (own.plex_token === '' || own.plex_token === null) delete own.plex_token;
  const cols = apiToRow(plexSourceProps, own);
  if (typeof cols.plex_token === 'string') cols.plex_token = secretsOf(db).seal(TOKEN_FIELD, cols.plex_token as string);
  return cols;
}

export function plexSourceResource(lists: () => JsonListReference[], columns: () => ColumnReference[]): ResourceDef<Row> {
  return typedSourceResource<Row>({
    type: 'plex',
    label: 'Plex',
    table: 'plex_sources',
    alias: 'p',
    props: plexSourceProps,
    filters: {
      ...sourceFilters,
      group_matching_mode: { type: 'enum', column: 'p.group_matching_mode', values: [...GROUP_MATCHING_MODES] },
      client_id: { type: 'str', column: 'p.client_id' },
      allow_friends: { type: 'bool', column: 'p.allow_friends' },
    },
    icon: '/static/authentik/sources/plex.svg',
    // authentik returns the owner's token here; Keystage never returns a secret: "" (the field is required)
    extra: (_r, out) => {
      out.plex_token = '';
    },
    validate: async (data, ctx) => {
      await checkMappings(ctx.db, data, 'plexsourcepropertymapping');
    },
    writes: {
      columns: plexColumns,
      defaults: () => ({
        group_matching_mode: 'identifier',
        client_id: newClientId(),
        allowed_servers: '[]',
        allow_friends: 1,
        plex_token: '',
      }),
    },
    lists,
    references: columns,
  });
}

async function sourceOf(svc: Services, req: FastifyRequest): Promise<Source> {
  const slug = (req.query as Record<string, unknown>).slug;
  const row = await typedSourceRow<Source>(svc.db, PLEX_KIND, 'plex_sources', { slug: typeof slug === 'string' ? slug : '' });
  if (!row) throw NotFound.plain();
  return row;
}

/** the person the token belongs to, if the source lets them in; throws the API's 400/403 otherwise */
async function redeem(svc: Services, req: FastifyRequest, source: Source) {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const token = body.plex_token;
  if (typeof token !== 'string' || token === '') throw ValidationError.field('plex_token', 'This field is required.');
  const ownerToken = source.plex_token ? secretsOf(svc.db).open(TOKEN_FIELD, source.plex_token) : '';
  const allowFriends = !!Number(source.allow_friends);
  if (allowFriends && !ownerToken) throw ValidationError.nonField('Source has no Plex token configured.');
  const base = svc.config.plexUrl;
  try {
    const user = await plexUser(base, token, source.client_id);
    const allowed = await mayLogIn(
      base,
      { client_id: source.client_id, allowed_servers: JSON.parse(source.allowed_servers || '[]'), allow_friends: allowFriends, ownerToken },
      token,
      user.id,
    );
    if (!allowed) {
      req.log.warn({ source: source.slug, user: user.properties.username }, 'Plex login denied: no shared server, not a friend');
      throw new Forbidden('Access denied.');
    }
    return { user, token };
  } catch (e) {
    if (e instanceof PlexError) throw ValidationError.nonField('Token not found');
    throw e;
  }
}

export function mountPlexSource(router: ApiRouter, svc: Services, lists: () => JsonListReference[], columns: () => ColumnReference[]) {
  router.component(
    'PlexTokenRedeemRequest',
    Type.Object({ plex_token: Type.String({ minLength: 1 }) }, { description: 'Serializer to redeem a plex token' }) as never,
  );
  const query = [{ name: 'slug', schema: { type: 'string' } }];
  router.route('/sources/plex/redeem_token', {
    post: {
      doc: {
        operationId: 'sources_plex_redeem_token_create',
        tag: 'sources',
        body: 'PlexTokenRedeemRequest',
        bodyRequired: true,
        query,
        response: 'RedirectChallenge',
      },
      // anyone (authentik's AllowAny): the person logging in
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        const source = await sourceOf(svc, req);
        if (!Number(source.enabled)) throw NotFound.plain();
        const { user, token } = await redeem(svc, req, source);
        const base = Object.fromEntries(Object.entries(user.properties).filter(([, v]) => v !== null));
        const mappings = await sourceMappings(svc, source.source_uuid, 'user');
        const mapped = mappings.length
          ? await mapProperties(svc, req, source, mappings, base, { info: user.raw as JsonObject }, 'plex')
          : { ok: true as const, properties: base };
        if (!mapped.ok) throw ValidationError.nonField(`Failed to evaluate property mapping: '${mapped.mapping}'`);
        const { groups: groupClaim, ...properties } = mapped.properties;
        const grouped = await mapGroups(svc, req, source, groupClaim, { info: user.raw as JsonObject }, 'plex');
        if (!grouped.ok) throw ValidationError.nonField(`Failed to evaluate property mapping: '${grouped.mapping}'`);
        const who: Vouched = {
          identifier: user.id,
          properties,
          groups: grouped.groups,
          accessToken: secretsOf(svc.db).seal(CONNECTION_TOKEN, token),
          expires: new Date().toISOString(),
        };
        const session = await svc.sessions.load(req);
        const answer = await sourceFlow(svc, req, reply, session, source, who, undefined);
        if (answer.type === 'flow') return { component: 'xak-flow-redirect', to: answer.to };
        await svc.sessions.save(session, req, reply);
        if (answer.type === 'linked') return { component: 'xak-flow-redirect', to: '/if/user/' };
        if (answer.type === 'bad_request') throw ValidationError.nonField(answer.message);
        throw new Forbidden(answer.message);
      },
    },
  });
  router.route('/sources/plex/redeem_token_authenticated', {
    post: {
      doc: {
        operationId: 'sources_plex_redeem_token_authenticated_create',
        tag: 'sources',
        body: 'PlexTokenRedeemRequest',
        bodyRequired: true,
        query,
        status: 204,
      },
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        const caller = requireCaller(req);
        const source = await sourceOf(svc, req);
        const { user, token } = await redeem(svc, req, source);
        const connection = {
          source: source.source_uuid,
          identifier: user.id,
          accessToken: secretsOf(svc.db).seal(CONNECTION_TOKEN, token),
          expires: new Date().toISOString(),
        };
        if (!(await linkConnection(svc, caller.user, connection, req.ip)))
          throw new Forbidden('This Plex account is already connected to another user.');
        reply.code(204);
        return undefined;
      },
    },
  });
  mountResource(router, svc.db, plexSourceResource(lists, columns));
}

export const plexSourceType: SourceTypeDef = {
  type: 'plex',
  label: 'Plex',
  creatable: () => [typeCreate(plexSourceType, 'Authenticate against plex.tv', 'plex.svg')],
  mount: (router, svc, refs) => mountPlexSource(router, svc, refs.lists, refs.columns),
  secretColumns: [{ table: 'plex_sources', pk: 'source_uuid', column: 'plex_token' }],
};
