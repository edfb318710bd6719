/** The OAuth2/OpenID provider type: its schema, its admin routes and the launch URL it gives applications. */
import type { ProviderDef } from '../types.js';
import { checkFederationProviders, oauth2Schema, redirectUris } from './schema.js';
import { mountOAuth2Admin } from './admin-routes.js';
import { mountOAuth2Protocol } from './endpoints/mount.js';
import { mountOAuth2Grants } from './tokens/resource.js';
import { mountDcrResource } from './dcr/resource.js';
import { registrationEndpoint } from './dcr/register.js';
import { apiTokenUser } from './tokens/api-access.js';
import type {} from './dcr/table.js';
import type { DB } from '../../db/index.js';
import { findAccessToken, isLive } from './tokens/store.js';
import { deleteBindingsOf } from '../../policies/targets.js';
import { deviceCodeStage } from './stages/device-code/index.js';
import { deviceCodeFinishStage } from './stages/device-code-finish/index.js';
import { promptConsentStage } from './stages/consent/index.js';
import { iframeLogoutStage } from './stages/iframe-logout/index.js';

/** authentik's OAuth2Provider.launch_url: the first redirect URI without its path */
export function launchUrlOf(uris: { url: string; redirect_uri_type?: string }[]): string | null {
  const first = uris.find((u) => (u.redirect_uri_type ?? 'authorization') === 'authorization');
  if (!first) return null;
  const m = /^([^:/?#]+:)?(\/\/[^/?#]*)?([^?#]*)(\?[^#]*)?(#.*)?$/.exec(first.url);
  if (!m) return null;
  return `${m[1] ?? ''}${m[2] ?? ''}${m[4] ?? ''}${m[5] ?? ''}`;
}

/**
 * whose live access token this is and which provider issued it (the Shared Signals provider's stream management
 * accepts the tokens of its OAuth2 providers); undefined for anything else
 */
export async function liveAccessToken(db: DB, token: string): Promise<{ providerId: number; userId: number } | undefined> {
  const row = await findAccessToken(db, token);
  return row && isLive(row) ? { providerId: Number(row.provider_id), userId: Number(row.user_id) } : undefined;
}

/** front-channel logout (the iframe stage), which the SAML provider's logouts use too */
export { insertIframeLogout, IFRAME_LOGOUT_KIND, type LogoutURL } from './stages/iframe-logout/index.js';

export const oauth2Provider: ProviderDef = {
  ...oauth2Schema,
  describe: (name) => `OAuth2 Provider ${name}`,
  stages: [deviceCodeStage, deviceCodeFinishStage, promptConsentStage, iframeLogoutStage],
  userGrantTables: ['oauth2_authorization_codes', 'oauth2_access_tokens', 'oauth2_refresh_tokens', 'oauth2_device_tokens'],
  async validate(data, ctx) {
    if (data.redirect_uris !== undefined) data.redirect_uris = redirectUris(data.redirect_uris);
    await checkFederationProviders(ctx.db, data.jwt_federation_providers);
  },
  // the registration settings go with the provider (by cascade), their policy bindings first
  apiBearer: apiTokenUser,
  async removeMore(tx, id) {
    const dcr = await tx.selectFrom('provider_oauth2_dcr').select('pbm_uuid').where('provider_id', '=', id).execute();
    await deleteBindingsOf(
      tx,
      dcr.map((d) => d.pbm_uuid),
    );
  },
  async usedByMore(db, id) {
    const dcr = await db.selectFrom('provider_oauth2_dcr').select('pbm_uuid').where('provider_id', '=', id).execute();
    return dcr.map((d) => ({
      app: 'authentik_providers_oauth2',
      model_name: 'oauth2dynamicclientregistration',
      pk: d.pbm_uuid,
      name: `OAuth2 Dynamic Client Registration of provider ${id}`,
      action: 'cascade' as const,
    }));
  },
  launchUrl(_db, row) {
    const raw = row.redirect_uris;
    const uris = typeof raw === 'string' ? (JSON.parse(raw) as { url: string }[]) : ((raw as { url: string }[] | undefined) ?? []);
    return launchUrlOf(uris);
  },
  routes(router, svc) {
    mountOAuth2Admin(router, svc);
    mountDcrResource(router, svc);
    mountOAuth2Protocol(router.app, svc, (req, reply) => registrationEndpoint(svc, oauth2Provider, req, reply));
    mountOAuth2Grants(router, svc);
  },
};
