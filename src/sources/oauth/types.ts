/**
 * OAuth source types (authentik's `authentik/sources/oauth/types/`): each names its fixed URLs (customisable or
 * not), the scopes it asks for, the identifier it takes from the profile and the user properties it maps. Keystage
 * supports the OAuth 2 types whose profile is one JSON document fetched with the access token; the others in
 * authentik's enum (OAuth 1 Twitter, Apple's form post, Facebook, WeChat, Entra ID, …) are refused when a source is
 * written (`SUPPORTED`).
 */

import { SignJWT, decodeJwt, importPKCS8 } from 'jose';
import { getToken, type TokenResult } from './client.js';

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
  /** (`attributes`: what the type keeps in the user's attributes, WeChat's) */
  properties(info: Profile): { username?: unknown; email?: unknown; name?: unknown; groups?: unknown; attributes?: Profile };
  /** how the client authenticates at the token URL unless the source says otherwise (authentik's type default) */
  codeAuth?: 'basic_auth' | 'post_body';
  /** parameters the authorization request carries besides OAuth's own (Twitch's `claims`, Reddit's `duration`) */
  authorizeParams?: Record<string, string>;
  /** the parameter the scopes go in instead of `scope` (Slack's `user_scope`: `scope` is for bot tokens) */
  scopeParam?: string;
  /** the token response as the client uses it (Slack's user token nested in `authed_user`) */
  normalizeToken?(token: Record<string, unknown>): Record<string, unknown>;
  /** the client id sent, from the source's consumer_key (Apple's `services id;team id;key id`) */
  clientId?(consumerKey: string): string;
  /** the client secret sent at the token URL, made from the source's (Apple's: a JWT signed with its key); throws when it cannot */
  clientSecret?(consumerKey: string, consumerSecret: string): Promise<string>;
  /** PKCE the provider requires whatever the source says (Twitter's): S256 when the source asks for none */
  requiresPkce?: boolean;
  /** the profile from the token response instead of a profile URL (Apple's ID token) */
  profileFromToken?(token: Record<string, unknown>): Profile | undefined;
  /** the profile's URL as requested, when the provider wants the token in it (Mailcow's `?access_token=`, WeChat's openid too) */
  profileRequestUrl?(profileUrl: string, token: Record<string, unknown>): string;
  /** the authorization URL as sent (WeChat's `#wechat_redirect`) */
  authorizeUrl?(url: string): string;
  /** the code exchanged otherwise than by OAuth's POST (WeChat's GET with the app secret in the query) */
  exchange?(tokenUrl: string, client: { consumer_key: string; consumer_secret: string }, code: string): Promise<TokenResult>;
  /** a group's name from the profile (Entra ID's display names), else its identifier */
  groupName?(info: Profile, id: string): string | undefined;
  /** what the type reads beyond the profile, with the access token (`get`: a JSON GET authorised by it) */
  enrich?(info: Profile, get: (url: string) => Promise<unknown>, profileUrl: string, additionalScopes: string): Promise<Profile>;
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
    codeAuth: 'post_body',
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
    // as authentik: Discord skips its consent screen for someone who has authorised the application before
    authorizeParams: { prompt: 'none' },
    identifier: (info) => str(info.id),
    properties: (info) => ({ username: info.username, email: info.email, name: info.username, groups: [] }),
  },
  {
    name: 'twitch',
    verbose_name: 'Twitch',
    urls_customizable: false,
    ...noUrls,
    authorization_url: 'https://id.twitch.tv/oauth2/authorize',
    access_token_url: 'https://id.twitch.tv/oauth2/token',
    profile_url: 'https://id.twitch.tv/oauth2/userinfo',
    scopes: ['openid'],
    codeAuth: 'post_body',
    // Twitch's userinfo carries these claims only when the authorization request asks for them
    authorizeParams: { claims: JSON.stringify({ userinfo: { email: null, preferred_username: null } }) },
    identifier: (info) => str(info.sub),
    properties: (info) => ({ username: info.preferred_username, email: info.email, name: info.preferred_username, groups: [] }),
  },
  {
    name: 'mailcow',
    verbose_name: 'Mailcow',
    urls_customizable: true,
    ...noUrls,
    scopes: ['openid profile'],
    // Mailcow answers its profile only with the token in the query (authentik sends it so)
    profileRequestUrl: (url, token) => withQuery(url, { access_token: String(token.access_token) }),
    identifier: (info) => str(info.id),
    properties: (info) => ({ username: info.full_name, email: info.email, name: info.full_name, groups: [] }),
  },
  {
    name: 'entraid',
    verbose_name: 'Entra ID',
    urls_customizable: true,
    ...noUrls,
    authorization_url: 'https://login.microsoftonline.com/common/oauth2/v2.0/authorize',
    access_token_url: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
    profile_url: 'https://graph.microsoft.com/v1.0/me',
    oidc_jwks_url: 'https://login.microsoftonline.com/common/discovery/keys',
    scopes: ['openid', 'https://graph.microsoft.com/User.Read'],
    codeAuth: 'post_body',
    // the Graph API's `id`; the OpenID `sub` when the profile URL was changed to a userinfo endpoint
    identifier: (info) => str(info.id) ?? str(info.sub),
    properties: (info) => {
      const other = Array.isArray(info.otherMails) ? info.otherMails[0] : undefined;
      return {
        username: info.userPrincipalName,
        email: info.mail || other,
        name: info.displayName,
        groups: entraGroups(info).map((g) => g.id),
      };
    },
    groupName: (info, id) => entraGroups(info).find((g) => g.id === id)?.displayName,
    // the person's groups, when the source asks Graph for them (additional scope GroupMember.Read.All): the
    // profile's memberOf (`https://graph.microsoft.com/v1.0/me/memberOf` with the default profile URL)
    async enrich(info, get, profileUrl, additionalScopes) {
      if (!additionalScopes.includes('https://graph.microsoft.com/GroupMember.Read.All')) return info;
      const groups = await get(`${profileUrl.replace(/\/+$/, '')}/memberOf`);
      return { ...info, raw_groups: groups };
    },
  },
  {
    name: 'facebook',
    verbose_name: 'Facebook',
    urls_customizable: false,
    ...noUrls,
    authorization_url: 'https://www.facebook.com/v7.0/dialog/oauth',
    access_token_url: 'https://graph.facebook.com/v7.0/oauth/access_token',
    profile_url: 'https://graph.facebook.com/v7.0/me?fields=id,name,email',
    scopes: ['email'],
    codeAuth: 'post_body',
    identifier: (info) => str(info.id),
    properties: (info) => ({ username: info.name, email: info.email, name: info.name, groups: [] }),
  },
  {
    name: 'patreon',
    verbose_name: 'Patreon',
    urls_customizable: false,
    ...noUrls,
    authorization_url: 'https://www.patreon.com/oauth2/authorize',
    access_token_url: 'https://www.patreon.com/api/oauth2/token',
    profile_url: 'https://www.patreon.com/api/oauth2/api/current_user',
    scopes: ['identity', 'identity[email]'],
    codeAuth: 'post_body',
    // a JSON:API document: the person is `data`, their details its `attributes`
    identifier: (info) => str(dataOf(info).id),
    properties: (info) => {
      const a = (dataOf(info).attributes ?? {}) as Profile;
      return { username: a.vanity, email: a.email, name: a.full_name, groups: [] };
    },
  },
  {
    name: 'reddit',
    verbose_name: 'Reddit',
    urls_customizable: false,
    ...noUrls,
    authorization_url: 'https://www.reddit.com/api/v1/authorize',
    access_token_url: 'https://www.reddit.com/api/v1/access_token',
    profile_url: 'https://oauth.reddit.com/api/v1/me',
    scopes: ['identity'],
    // Reddit takes the client's credentials by HTTP Basic only
    codeAuth: 'basic_auth',
    authorizeParams: { duration: 'permanent' },
    identifier: (info) => str(info.id),
    // Reddit gives no e-mail address
    properties: (info) => ({ username: info.name, email: undefined, name: info.name, groups: [] }),
  },
  {
    name: 'apple',
    verbose_name: 'Apple',
    urls_customizable: false,
    ...noUrls,
    authorization_url: 'https://appleid.apple.com/auth/authorize',
    access_token_url: 'https://appleid.apple.com/auth/token',
    scopes: ['name', 'email'],
    codeAuth: 'post_body',
    // Apple posts the answer back (its name and e-mail scopes need it): the callback takes a POST
    authorizeParams: { response_mode: 'form_post' },
    clientId: (key) => appleKey(key)?.servicesId ?? key,
    clientSecret: appleClientSecret,
    // the ID token the token endpoint answered, over TLS, is the profile (authentik reads it unverified, as OpenID
    // Connect allows for an ID token from the token endpoint)
    profileFromToken: (token) => {
      if (typeof token.id_token !== 'string') return undefined;
      try {
        return decodeJwt(token.id_token) as Profile;
      } catch {
        return undefined;
      }
    },
    identifier: (info) => str(info.sub),
    properties: (info) => ({ username: undefined, email: info.email, name: info.name, groups: [] }),
  },
  {
    name: 'twitter',
    verbose_name: 'Twitter',
    urls_customizable: false,
    ...noUrls,
    authorization_url: 'https://twitter.com/i/oauth2/authorize',
    access_token_url: 'https://api.twitter.com/2/oauth2/token',
    profile_url: 'https://api.twitter.com/2/users/me',
    scopes: ['users.read', 'tweet.read'],
    // X's OAuth 2: HTTP Basic at the token URL, and PKCE always (authentik sends `plain`; S256 unless the source says plain)
    codeAuth: 'basic_auth',
    requiresPkce: true,
    identifier: (info) => str(dataOf(info).id),
    properties: (info) => {
      const d = dataOf(info);
      return { username: d.username, email: undefined, name: d.name, groups: [] };
    },
  },
  {
    name: 'wechat',
    verbose_name: 'WeChat',
    urls_customizable: false,
    ...noUrls,
    authorization_url: 'https://open.weixin.qq.com/connect/qrconnect',
    access_token_url: 'https://api.weixin.qq.com/sns/oauth2/access_token',
    profile_url: 'https://api.weixin.qq.com/sns/userinfo',
    // "Login for Websites": the QR code scope only; the app id as WeChat names it, and its fragment
    scopes: ['snsapi_login'],
    authorizeUrl: (url) => {
      const u = new URL(url);
      u.searchParams.set('appid', u.searchParams.get('client_id') ?? '');
      return `${u.toString()}#wechat_redirect`;
    },
    exchange: (tokenUrl, client, code) =>
      getToken(withQuery(tokenUrl, { appid: client.consumer_key, secret: client.consumer_secret, code, grant_type: 'authorization_code' })),
    profileRequestUrl: (url, token) =>
      withQuery(url, { access_token: String(token.access_token), openid: String(token.openid ?? ''), lang: 'en' }),
    // the union id is the same across the apps of one WeChat Open Platform account; the open id only for this app
    identifier: (info) => (info.errcode === undefined ? (str(info.unionid) ?? str(info.openid)) : undefined),
    // WeChat gives no e-mail address; the rest of its profile goes into the user's attributes, as authentik's
    properties: (info) => ({
      username: info.unionid ?? info.openid,
      email: undefined,
      name: info.nickname,
      groups: [],
      attributes: Object.fromEntries(
        ['headimgurl', 'sex', 'city', 'province', 'country', 'unionid', 'openid'].map((k) => [k, info[k] ?? null]),
      ),
    }),
  },
  {
    name: 'slack',
    verbose_name: 'Slack',
    urls_customizable: false,
    ...noUrls,
    authorization_url: 'https://slack.com/oauth/v2/authorize',
    access_token_url: 'https://slack.com/api/oauth.v2.access',
    profile_url: 'https://slack.com/api/openid.connect.userInfo',
    scopes: ['openid', 'email', 'profile'],
    scopeParam: 'user_scope',
    normalizeToken: (token) => {
      const user = token.authed_user as Record<string, unknown> | undefined;
      const out: Record<string, unknown> = { ...token, token_type: 'Bearer' };
      if (user && typeof user.access_token === 'string') {
        out.access_token = user.access_token;
        if (user.refresh_token !== undefined) out.refresh_token = user.refresh_token;
        if (user.expires_in !== undefined) out.expires_in = user.expires_in;
        out.id = user.id;
      }
      return out;
    },
    identifier: (info) => str(info.sub),
    properties: (info) => ({ username: info.name, email: info.email, name: info.name, groups: [] }),
  },
];

const withQuery = (url: string, params: Record<string, string>): string => {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
};

/** Apple's consumer_key: `services id;team id;key id` (authentik's format) */
function appleKey(key: string): { servicesId: string; teamId: string; keyId: string } | undefined {
  const parts = key.split(';').map((p) => p.trim());
  if (parts.length < 3) return undefined;
  return { servicesId: parts[0]!, teamId: parts[1]!, keyId: parts[2]! };
}

/** Apple's client secret: an ES256 JWT of the team for the services id, signed with the source's private key (PEM) */
async function appleClientSecret(consumerKey: string, consumerSecret: string): Promise<string> {
  const k = appleKey(consumerKey);
  if (!k) throw new Error('Apple Source client_id should be formatted like services_id_identifier;apple_team_id;key_id');
  const key = await importPKCS8(consumerSecret.trim(), 'ES256');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: k.keyId })
    .setIssuer(k.teamId)
    .setSubject(k.servicesId)
    .setAudience('https://appleid.apple.com')
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(key);
}

/** the `data` object of a JSON:API-style profile (Patreon's, X's) */
const dataOf = (info: Profile): Profile => {
  const d = info.data;
  return d && typeof d === 'object' && !Array.isArray(d) ? (d as Profile) : {};
};

/** the groups of an Entra ID profile's `raw_groups` (Graph's memberOf answer): groups only, not roles */
function entraGroups(info: Profile): { id: string; displayName?: string }[] {
  const raw = info.raw_groups as { value?: unknown } | undefined;
  const values = raw && Array.isArray(raw.value) ? raw.value : [];
  return (values as Record<string, unknown>[])
    .filter((g) => g && g['@odata.type'] === '#microsoft.graph.group' && typeof g.id === 'string')
    .map((g) => ({ id: g.id as string, ...(typeof g.displayName === 'string' ? { displayName: g.displayName } : {}) }));
}

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
