/**
 * /sources/oauth/ (authentik's OAuthSourceViewSet) with /sources/oauth/source_types/, and the OAuth source's entry in
 * the source registry (its /sources/all/types entries, one per supported type, and its place on a person's settings
 * page). The settings are in `oauth_sources` beside the base row; the consumer secret is sealed at rest and never
 * returned.
 */
import { sql } from 'kysely';
import { requestOrigin } from '../../brands/links.js';
import type { DB } from '../../db/index.js';
import { secretsOf } from '../../instance/secrets.js';
import { requireCaller } from '../../rest/auth.js';
import { ValidationError } from '../../rest/errors.js';
import type { ColumnReference } from '../../rest/references.js';
import { mountResource, type ResourceDef, type WriteCtx } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { apiToRow, rowToApi } from '../../rest/serialize.js';
import type { Services } from '../../services.js';
import { type JsonListReference, kindOf, type SourceTypeDef, sourceMeta } from '../kinds.js';
import { checkMappings, renderSources, type SourceRow, sourceFilters, typedSourceWrites } from '../resource.js';
import { baseSourceProps, OAUTH_COLUMNS, oauthSourceProps, sourceTypeComponent } from '../schema.js';
import type { OAuthSourcesTable } from '../table.js';
import { discover } from './discovery.js';
import { callbackPath, loginPath } from './paths.js';
import { mountOAuthSourceRoutes } from './routes.js';
import { SUPPORTED, sourceType, typeJson, urlOf } from './types.js';

export type OAuthSourceRow = SourceRow & OAuthSourcesTable;

const NAMES = { type: 'oauth', label: 'OAuth' };
const KIND = kindOf(NAMES);
const META = sourceMeta(NAMES);
const SECRET = 'oauth_sources.consumer_secret';
const oauthProps = { ...baseSourceProps, ...oauthSourceProps };

/** authentik's OAuthSourceSerializer.validate, on the settings as they will be after the write */
async function validateOAuth(data: Record<string, unknown>, ctx: WriteCtx, existing?: OAuthSourceRow) {
  await checkMappings(ctx.db, data);
  const merged: Record<string, unknown> = { ...(existing ?? {}), ...data };
  if (existing && typeof existing.oidc_jwks === 'string') merged.oidc_jwks = data.oidc_jwks ?? JSON.parse(existing.oidc_jwks);
  const name = String(merged.provider_type ?? '');
  const t = sourceType(name);
  if (!t) throw new ValidationError({ provider_type: [`Keystage does not support the "${name}" source type yet.`] });
  const changed = (f: string) => ctx.mode === 'create' || data[f] !== undefined;
  // the type's client authentication unless the source names one (authentik's per-type default)
  if ((data.authorization_code_auth_method ?? null) === null) {
    if (ctx.mode === 'create') data.authorization_code_auth_method = t.codeAuth ?? 'basic_auth';
    else delete data.authorization_code_auth_method;
  }
  // (authentik runs OAuth 1 when a request token URL is set; Keystage has no OAuth 1 client, so none is taken)
  if (typeof merged.request_token_url === 'string' && merged.request_token_url !== '')
    throw new ValidationError({ request_token_url: ['OAuth 1 (a request token URL) is not supported: leave this empty.'] });
  const sent = (ctx.body ?? {}) as Record<string, unknown>;
  await discover(merged, t, changed, sent.pkce !== undefined && sent.pkce !== null);
  if (merged.pkce === 'S256') data.pkce = 'S256';
  for (const f of ['authorization_url', 'access_token_url', 'profile_url', 'oidc_jwks_url', 'oidc_jwks'] as const)
    if (merged[f] !== (existing as Record<string, unknown> | undefined)?.[f] || ctx.mode === 'create') data[f] = merged[f];
  // (a type whose profile is the token response's ID token has no profile URL: Apple)
  const urls = t.profileFromToken
    ? (['authorization_url', 'access_token_url'] as const)
    : (['authorization_url', 'access_token_url', 'profile_url'] as const);
  for (const url of urls)
    if (!urlOf(t, merged as never, url)) throw ValidationError.nonField(`${url} is required for provider ${t.verbose_name}`);
  for (const url of urls) {
    const v = urlOf(t, merged as never, url)!;
    if (!/^https?:\/\//i.test(v)) throw new ValidationError({ [url]: ['Enter a valid URL (http or https).'] });
  }
  // a client secret the type makes from the source's (Apple's signed JWT) is made once now, so a wrong key format or
  // key is a 400 here rather than a failed login later
  if (t.clientSecret && typeof data.consumer_secret === 'string' && typeof merged.consumer_key === 'string')
    await t.clientSecret(merged.consumer_key, data.consumer_secret).catch((e: Error) => {
      throw new ValidationError({
        consumer_secret: [/formatted like/.test(e.message) ? e.message : 'Enter the private key (PKCS #8 PEM) Apple gave for the key id.'],
      });
    });
}

function oauthColumns(db: DB, data: Record<string, unknown>) {
  const own: Record<string, unknown> = {};
  for (const c of OAUTH_COLUMNS) if (data[c] !== undefined) own[c] = data[c];
  const cols = apiToRow(oauthSourceProps, own);
  if (typeof cols.consumer_secret === 'string') cols.consumer_secret = secretsOf(db).seal(SECRET, cols.consumer_secret as string);
  return cols;
}

export function oauthSourceResource(
  lists: () => JsonListReference[],
  columns: () => ColumnReference[] = () => [],
): ResourceDef<OAuthSourceRow> {
  const own = (c: string) => ({ type: 'str' as const, column: `o.${c}` });
  return {
    component: 'OAuthSource',
    model: 'OAuthSource',
    path: '/sources/oauth',
    opPrefix: 'sources_oauth',
    tag: 'sources',
    lookup: { param: 'slug', column: 's.slug', rowKey: 'slug', type: 'slug' },
    props: oauthProps,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_sources_oauth.oauthsource', verbose: 'OAuth Source', pk: { column: 's.source_uuid', rowKey: 'source_uuid' } },
    list: {
      filters: {
        ...sourceFilters,
        group_matching_mode: { type: 'enum', column: 'o.group_matching_mode', values: ['identifier', 'name_link', 'name_deny'] },
        provider_type: own('provider_type'),
        request_token_url: own('request_token_url'),
        authorization_url: own('authorization_url'),
        access_token_url: own('access_token_url'),
        profile_url: own('profile_url'),
        consumer_key: own('consumer_key'),
        additional_scopes: own('additional_scopes'),
        has_jwks: {
          type: 'custom',
          parse: (values) => {
            const v = values.at(-1);
            if (v === undefined || v === '') return { cond: undefined };
            const yes = v === 'true' || v === 'True' || v === '1';
            if (!yes && v !== 'false' && v !== 'False' && v !== '0') return { error: ['Enter a valid boolean.'] };
            return { cond: () => (yes ? sql`o.oidc_jwks not in ('{}', '')` : sql`o.oidc_jwks in ('{}', '')`) as never };
          },
          schema: { type: 'boolean' },
        },
      },
      search: ['s.name', 's.slug'],
      ordering: { name: 's.name', slug: 's.slug', pk: 's.source_uuid', provider_type: 'o.provider_type', enabled: 's.enabled' },
      defaultOrdering: ['name'],
      pk: 's.source_uuid',
      unique: ['s.slug'],
    },
    select: (db) =>
      db
        .selectFrom('sources as s')
        .innerJoin('oauth_sources as o', 'o.source_uuid', 's.source_uuid')
        .selectAll('s')
        .select(OAUTH_COLUMNS.map((c) => `o.${c}` as const))
        .select('s.source_uuid as pk')
        .where('s.kind', '=', KIND),
    render: async (db, rows, req) => {
      const bases = await renderSources(db, rows);
      return rows.map((r, i) => {
        const o: Record<string, unknown> = { ...bases[i], ...rowToApi(oauthSourceProps, r), ...META };
        const t = sourceType(r.provider_type);
        o.type = t ? typeJson(t) : null;
        o.callback_url = `${requestOrigin(req)}${callbackPath(r.slug)}`;
        return o;
      });
    },
    validate: validateOAuth,
    ...typedSourceWrites<OAuthSourceRow>({ names: NAMES, table: 'oauth_sources', columns: oauthColumns, lists, references: columns }),
  };
}

function mountOAuthSource(router: ApiRouter, svc: Services, lists: () => JsonListReference[], columns: () => ColumnReference[]) {
  router.component('SourceType', sourceTypeComponent);
  router.route('/sources/oauth/source_types', {
    get: {
      doc: {
        operationId: 'sources_oauth_source_types_list',
        tag: 'sources',
        query: [{ name: 'name', schema: { type: 'string' } }],
        response: { type: 'array', items: { $ref: '#/components/schemas/SourceType' } },
      },
      handler: async (req) => {
        // any logged-in caller, as authentik's TypesMixin
        requireCaller(req);
        const name = (req.query as Record<string, string | undefined>).name;
        if (name) return [typeJson(SUPPORTED.get(name) ?? SUPPORTED.get('openidconnect')!)];
        return [...SUPPORTED.values()].map(typeJson);
      },
    },
  });
  mountResource(router, svc.db, oauthSourceResource(lists, columns));
}

export const oauthSourceType: SourceTypeDef = {
  ...NAMES,
  // one entry per supported type (authentik's per-type forms of the one model)
  creatable: () =>
    [...SUPPORTED.values()].map((t) => ({
      name: `${t.verbose_name} OAuth Source`,
      description:
        t.name === 'openidconnect' ? 'Login using a Generic OpenID-Connect compliant provider.' : `Social Login using ${t.verbose_name}.`,
      component: 'ak-source-oauth-form',
      model_name: `${t.name}oauthsource`,
      icon_url: `/static/authentik/sources/${t.name}.svg`,
      requires_enterprise: false,
      deprecated: false,
    })),
  userSettings: { component: 'ak-user-settings-source-oauth', configurePath: loginPath, icon: null },
  mount: (router, svc, refs) => mountOAuthSource(router, svc, refs.lists, refs.columns),
  routes: mountOAuthSourceRoutes,
  secretColumns: [{ table: 'oauth_sources', pk: 'source_uuid', column: 'consumer_secret' }],
};
