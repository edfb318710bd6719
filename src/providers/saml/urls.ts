/** authentik's SAML provider URLs (`authentik_providers_saml:*`), absolute on this server's external URL or the request's. */
export const DEFAULT_ISSUER = 'authentik';

export function samlUrls(base: string, pk: number, slug: string | null) {
  const app = (path: string) => (slug === null ? '-' : `${base}/application/saml/${slug}/${path}`);
  return {
    url_download_metadata: slug === null ? `${base}/api/v3/providers/saml/${pk}/metadata/?download` : app('metadata/'),
    url_unified: app(''),
    url_unified_init: app('init/'),
    url_sso_post: app('sso/binding/post/'),
    url_sso_redirect: app('sso/binding/redirect/'),
    url_sso_init: app('sso/binding/init/'),
    url_slo_post: app('slo/binding/post/'),
    url_slo_redirect: app('slo/binding/redirect/'),
  };
}

/** the provider's entity ID: its override, else its application's metadata URL, else authentik's default */
export const issuerOf = (provider: { issuer_override: string }, base: string, slug: string | null): string =>
  provider.issuer_override || (slug === null ? DEFAULT_ISSUER : `${base}/application/saml/${slug}/metadata/`);
