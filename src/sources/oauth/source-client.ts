/**
 * An OAuth source as a client of its identity provider: its client settings as its type sends them, and a token got
 * with the source's own client credentials (a SCIM provider's `oauth` authentication: authentik's SCIMOAuthAuth, the
 * `password` grant unless the provider's parameters say otherwise).
 */
import type { Services } from '../../services.js';
import type { DB } from '../../db/index.js';
import { secretsOf } from '../../instance/secrets.js';
import type { OAuthSourcesTable, SourcesTable } from '../table.js';
import { requestToken, type TokenResult } from './client.js';
import { sourceType, urlOf, type SourceType } from './types.js';

export type Source = SourcesTable & OAuthSourcesTable;

/**
 * The source's client settings as its type sends them: the client id the type derives (Apple's services id), the
 * PKCE it requires (Twitter's), and for the code exchange the client secret it makes (Apple's signed JWT; throws
 * when it cannot)
 */
export async function clientOf(type: SourceType, source: Source, opts: { secret?: boolean } = {}): Promise<Source> {
  return {
    ...source,
    consumer_key: type.clientId?.(source.consumer_key) ?? source.consumer_key,
    pkce: type.requiresPkce && source.pkce !== 'plain' && source.pkce !== 'S256' ? 'S256' : source.pkce,
    ...(opts.secret && type.clientSecret ? { consumer_secret: await type.clientSecret(source.consumer_key, source.consumer_secret) } : {}),
  };
}

/** an OAuth source by slug or pk, its client secret opened */
export async function oauthSource(db: DB, by: { slug: string } | { uuid: string }): Promise<Source | undefined> {
  const row = (await db
    .selectFrom('sources as s')
    .innerJoin('oauth_sources as o', 'o.source_uuid', 's.source_uuid')
    .selectAll('s')
    .selectAll('o')
    .where('slug' in by ? 's.slug' : 's.source_uuid', '=', 'slug' in by ? by.slug : by.uuid)
    .where('s.kind', '=', 'oauthsource')
    .executeTakeFirst()) as Source | undefined;
  return row && { ...row, consumer_secret: secretsOf(db).open('oauth_sources.consumer_secret', row.consumer_secret) };
}

/** a token for the source's client, from its token URL, with these grant parameters over authentik's defaults */
export async function sourceClientToken(svc: Services, sourceUuid: string, params: Record<string, string>): Promise<TokenResult> {
  const source = await oauthSource(svc.db, { uuid: sourceUuid });
  const type = source && sourceType(source.provider_type);
  const tokenUrl = source && type ? urlOf(type, source, 'access_token_url') : null;
  if (!source || !type || !tokenUrl) return { ok: false, reason: 'The OAuth source has no token URL.' };
  let client: Source;
  try {
    client = await clientOf(type, source, { secret: true });
  } catch {
    return { ok: false, reason: 'Could not retrieve token.' };
  }
  return requestToken(tokenUrl, client, { grant_type: 'password', ...params }, type.normalizeToken);
}
