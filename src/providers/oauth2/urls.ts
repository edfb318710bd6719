/** authentik's OAuth2 URLs (`authentik_providers_oauth2:*`), absolute on this server's external URL or the request's. */

export { baseUrlOf } from '../../rest/http.js';

export const oauth2Urls = (base: string, slug: string | null) => ({
  root: `${base}/`,
  authorize: `${base}/application/o/authorize/`,
  token: `${base}/application/o/token/`,
  userinfo: `${base}/application/o/userinfo/`,
  introspect: `${base}/application/o/introspect/`,
  revoke: `${base}/application/o/revoke/`,
  device: `${base}/application/o/device/`,
  ...(slug === null
    ? {}
    : {
        issuer: `${base}/application/o/${slug}/`,
        providerInfo: `${base}/application/o/${slug}/.well-known/openid-configuration`,
        jwks: `${base}/application/o/${slug}/jwks/`,
        endSession: `${base}/application/o/${slug}/end-session/`,
      }),
});

/** authentik's OAuth2Provider.get_issuer: the server's root (global) or the application's URL (per provider) */
export function issuerOf(base: string, provider: { issuer_mode: string; application: { slug: string } | null }): string | null {
  if (provider.issuer_mode === 'global') return `${base}/`;
  return provider.application ? `${base}/application/o/${provider.application.slug}/` : null;
}
