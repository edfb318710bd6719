/**
 * Who may manage an SSF provider's streams (authentik's SSFTokenAuth): a bearer that is the provider's own API token
 * (its service account's), or a live access token of an OAuth2 provider the SSF provider names
 * (`oidc_auth_providers`) or of its application's main provider. Beyond authentik, the bearer must belong to the
 * provider of the URL's application (authentik acts on the token's provider whatever the URL names).
 */
import type { FastifyRequest } from 'fastify';
import type { DB } from '../../db/index.js';
import type { UsersTable } from '../../db/types.js';
import { apiTokenOf, bearerOf, isSuperuser } from '../../rest/auth.js';
import { Forbidden } from '../../rest/errors.js';
import { can } from '../../rbac/check.js';
import { liveAccessToken } from '../oauth2/index.js';
import type { SsfProvider } from './config.js';

export interface StreamCaller {
  user: UsersTable;
  /** the provider's own token: it may add streams without a permission check */
  ownToken: boolean;
}

export async function streamCaller(db: DB, req: FastifyRequest, provider: SsfProvider): Promise<StreamCaller> {
  const key = bearerOf(req);
  if (!key) throw Forbidden.notAuthenticated();
  const token = await apiTokenOf(db, key);
  if (token) {
    if (!token.is_active || token.token_uuid !== provider.token_uuid) throw Forbidden.notAuthenticated();
    const { token_uuid: _, ...user } = token;
    return { user: user as UsersTable, ownToken: true };
  }
  const access = await liveAccessToken(db, key);
  if (!access) throw Forbidden.notAuthenticated();
  const named = await db
    .selectFrom('provider_ssf_oidc_auth_providers')
    .select('oauth2_provider_id')
    .where('provider_id', '=', provider.id)
    .where('oauth2_provider_id', '=', access.providerId)
    .executeTakeFirst();
  if (!named && provider.application?.provider !== access.providerId) throw Forbidden.notAuthenticated();
  const user = await db.selectFrom('users').selectAll().where('id', '=', access.userId).executeTakeFirst();
  if (!user?.is_active) throw Forbidden.notAuthenticated();
  return { user: user as UsersTable, ownToken: false };
}

/** authentik's `has_perm("authentik_providers_ssf.add_stream", provider)` */
export async function mayAddStream(db: DB, c: StreamCaller, provider: SsfProvider): Promise<boolean> {
  if (c.ownToken) return true;
  const subject = { user: c.user, superuser: await isSuperuser(db, c.user.id) };
  return can(db, subject, 'authentik_providers_ssf.add_stream', provider.id);
}
