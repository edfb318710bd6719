/** authentik's URLs of an OAuth source (authentik/sources/oauth/urls.py, mounted at /source/oauth/). */
export const loginPath = (slug: string) => `/source/oauth/login/${encodeURIComponent(slug)}/`;
export const callbackPath = (slug: string) => `/source/oauth/callback/${encodeURIComponent(slug)}/`;
