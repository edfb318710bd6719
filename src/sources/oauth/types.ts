/**
 * OAuth source types (authentik's `authentik/sources/oauth/types/`): each names its fixed URLs (customisable or
 * not), the scopes it asks for, the identifier it takes from the profile and the user properties it maps. Keystage
 * supports the OAuth 2 types whose profile is one JSON document fetched with the access token; the others in
 * authentik's enum (OAuth 1 Twitter, Apple's form post, Facebook, WeChat, Entra ID, …) are refused when a source is
 * written (`SUPPORTED`).
 */

export type Profile = Record<string, unknown>;

export interface SourceType {
  name: string;
  verbose_name: string;
  urls_customizable: boolean;
  request_token_url: string | null;
  authorization_url: string | null;
  access_token_url: string | null;
  profile_url: string | null;
  oidc_well_known_url: string | null;
  oidc_jwks_url: string | null;
  /** scopes asked for before the source's additional_scopes */
  scopes: string[];
  /** the identity's stable id at the source (authentik's `get_user_id`) */
  identifier(info: Profile): string | undefined;
  /** authentik's `get_base_user_properties`: username, email, name, groups */
  properties(info: Profile): { username?: unknown; email?: unknown; name?: unknown; groups?: unknown };
  /** what the type reads beyond the profile, with the access token (`get`: a JSON GET authorised by it) */
  enrich?(info: Profile, get: (url: string) => Promise<unknown>, profileUrl: string): Promise<Profile>;
}

/** authentik's ProviderTypeEnum: what the wire accepts */
export const PROVIDER_TYPES = [
  'openidconnect',
  'apple',
  'discord',
  'entraid',
  'facebook',
  'github',
  'gitlab',
  'google',
  'mailcow',
  'okta',
  'patreon',
  'reddit',
  'slack',
  'twitch',
  'twitter',
  'wechat',
] as const;

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);

const noUrls = {
  request_token_url: null,
  authorization_url: null,
  access_token_url: null,
  profile_url: null,
  oidc_well_known_url: null,
  oidc_jwks_url: null,
};

const oidcProperties = (info: Profile) => ({
  username: info.nickname ?? info.preferred_username,
  email: info.email,
  name: info.name,
  groups: info.groups ?? [],
});

const types: SourceType[] = [
  {
    name: 'openidconnect',
    verbose_name: 'OpenID Connect',
    urls_customizable: true,
    ...noUrls,
    scopes: ['openid', 'email', 'profile'],
    identifier: (info) => str(info.sub),
    properties: oidcProperties,
  },
  {
    name: 'okta',
    verbose_name: 'Okta',
    urls_customizable: true,
    ...noUrls,
    scopes: ['openid', 'email', 'profile'],
    identifier: (info) => str(info.sub),
    properties: oidcProperties,
  },
  {
    name: 'github',
    verbose_name: 'GitHub',
    urls_customizable: true,
    ...noUrls,
    authorization_url: 'https://github.com/login/oauth/authorize',
    access_token_url: 'https://github.com/login/oauth/access_token',
    profile_url: 'https://api.github.com/user',
    // GitHub Actions' tokens: what a provider's jwt_federation_sources verify with this source's JWKS
    oidc_well_known_url: 'https://token.actions.githubusercontent.com/.well-known/openid-configuration',
    oidc_jwks_url: 'https://token.actions.githubusercontent.com/.well-known/jwks',
    scopes: ['read:user', 'user:email'],
    identifier: (info) => str(info.id),
    properties: (info) => ({ username: info.login, email: info.email, name: info.name, groups: [] }),
    // the profile has an e-mail only when the person made one public: else their primary address from /user/emails
    async enrich(info, get, profileUrl) {
      if (typeof info.email === 'string' && info.email !== '') return info;
      const emails = await get(`${profileUrl}/emails`).catch(() => undefined);
      const primary = Array.isArray(emails)
        ? (emails as { primary?: unknown; email?: unknown }[]).find((e) => e && e.primary === true && typeof e.email === 'string')
        : undefined;
      return primary ? { ...info, email: primary.email } : info;
    },
  },
  {
    name: 'gitlab',
    verbose_name: 'GitLab',
    urls_customizable: true,
    ...noUrls,
    authorization_url: 'https://gitlab.com/oauth/authorize',
    access_token_url: 'https://gitlab.com/oauth/token',
    profile_url: 'https://gitlab.com/oauth/userinfo',
    oidc_well_known_url: 'https://gitlab.com/.well-known/openid-configuration',
    oidc_jwks_url: 'https://gitlab.com/oauth/discovery/keys',
    scopes: ['read_user', 'openid', 'profile', 'email'],
    identifier: (info) => str(info.sub),
    properties: (info) => ({ username: info.preferred_username, email: info.email, name: info.name, groups: [] }),
  },
  {
    name: 'google',
    verbose_name: 'Google',
    urls_customizable: false,
    ...noUrls,
    authorization_url: 'https://accounts.google.com/o/oauth2/auth',
    access_token_url: 'https://oauth2.googleapis.com/token',
    profile_url: 'https://www.googleapis.com/oauth2/v1/userinfo',
    oidc_well_known_url: 'https://accounts.google.com/.well-known/openid-configuration',
    oidc_jwks_url: 'https://www.googleapis.com/oauth2/v3/certs',
    scopes: ['email', 'profile'],
    identifier: (info) => str(info.id),
    properties: (info) => ({ username: info.email, email: info.email, name: info.name, groups: [] }),
  },
  {
    name: 'discord',
    verbose_name: 'Discord',
    urls_customizable: false,
    ...noUrls,
    authorization_url: 'https://discord.com/api/oauth2/authorize',
    access_token_url: 'https://discord.com/api/oauth2/token',
    profile_url: 'https://discord.com/api/users/@me',
    scopes: ['email', 'identify'],
    identifier: (info) => str(info.id),
    properties: (info) => ({ username: info.username, email: info.email, name: info.username, groups: [] }),
  },
];

export const SUPPORTED: ReadonlyMap<string, SourceType> = new Map(types.map((t) => [t.name, t]));

/** the type of a source (undefined: a type Keystage does not support) */
export const sourceType = (name: string) => SUPPORTED.get(name);

/** a type as /sources/oauth/source_types/ and a source's `type` show it */
export function typeJson(t: SourceType) {
  return {
    name: t.name,
    verbose_name: t.verbose_name,
    urls_customizable: t.urls_customizable,
    request_token_url: t.request_token_url,
    authorization_url: t.authorization_url,
    access_token_url: t.access_token_url,
    profile_url: t.profile_url,
    oidc_well_known_url: t.oidc_well_known_url,
    oidc_jwks_url: t.oidc_jwks_url,
  };
}

/** the URL a source uses: its own when the type lets it be set and it is, else the type's */
export function urlOf(
  t: SourceType,
  row: { authorization_url: string | null; access_token_url: string | null; profile_url: string | null },
  which: 'authorization_url' | 'access_token_url' | 'profile_url',
): string | null {
  return (t.urls_customizable && row[which]) || t[which] || null;
}
