import { AMR_MFA, AMR_PASSWORD, AMR_SMART_CARD, AMR_WEBAUTHN, ACR_AUTHENTIK_DEFAULT } from './constants.js';
import { uidOf } from '../../../users/render.js';
import { generateId } from './random.js';
import type { ClaimsUser, ProviderSettings } from './types.js';

/** authentik's `IDToken` dataclass: the claims it sets itself, in its order, and the mappings' `claims` */
export interface IdToken {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  iat?: number;
  auth_time?: number;
  acr?: string;
  amr?: string[];
  c_hash?: string;
  nonce?: string;
  at_hash?: string;
  sid?: string;
  claims: Record<string, unknown>;
}

const FIELDS = ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'amr', 'c_hash', 'nonce', 'at_hash', 'sid'] as const;

/** the login event a token's session started with (its `auth_method` and `auth_method_args` context) */
export interface LoginEvent {
  context: { auth_method?: string; auth_method_args?: Record<string, unknown> | null };
}

/** `default_token_duration()` for grants without an expiry */
const DEFAULT_TOKEN_DURATION_MS = 30 * 60_000;

/** the issuer (`get_issuer`): the root for `global`, the application's root for `per_provider` (none without one) */
export function issuerOf(provider: Pick<ProviderSettings, 'issuer_mode' | 'application'>, origin: string): string | undefined {
  const base = origin.replace(/\/+$/, '');
  if (provider.issuer_mode === 'global') return `${base}/`;
  return provider.application ? `${base}/application/o/${provider.application.slug}/` : undefined;
}

function attributesOf(user: ClaimsUser): Record<string, unknown> {
  if (typeof user.attributes !== 'string') return user.attributes ?? {};
  try {
    const v = JSON.parse(user.attributes);
    return v && typeof v === 'object' ? v : {};
  } catch {
    return {};
  }
}

/** `sub` by the provider's sub_mode */
export function subjectOf(subMode: ProviderSettings['sub_mode'], user: ClaimsUser, installId: string): string {
  switch (subMode) {
    case 'hashed_user_id':
      return uidOf(user.id, installId);
    case 'user_id':
      return String(user.id);
    case 'user_uuid':
      return user.uuid;
    case 'user_email':
      return user.email;
    case 'user_username':
      return user.username;
    case 'user_upn': {
      const upn = attributesOf(user).upn;
      return typeof upn === 'string' ? upn : uidOf(user.id, installId);
    }
    default:
      throw new Error(`invalid sub_mode: ${subMode as string}`);
  }
}

/** `amr` from the login event: pwd, user (passkey), sc (certificate), mfa (MFA devices used) */
export function amrOf(event: LoginEvent | null | undefined): string[] | undefined {
  if (!event) return undefined;
  const method = event.context.auth_method ?? '';
  const args = event.context.auth_method_args ?? {};
  const amr: string[] = [];
  if (method === 'password') amr.push(AMR_PASSWORD);
  if (method === 'auth_webauthn_pwl') amr.push(AMR_WEBAUTHN);
  if ('certificate' in args) amr.push(AMR_SMART_CARD);
  if ('mfa_devices' in args) amr.push(AMR_MFA);
  return amr.length ? amr : undefined;
}

export interface NewIdTokenInput {
  provider: Pick<ProviderSettings, 'client_id' | 'sub_mode' | 'issuer_mode' | 'application'>;
  /** scheme://host the request came to (or the configured external URL) */
  origin: string;
  installId: string;
  user: ClaimsUser;
  /** the grant's expiry (exp); null: authentik's default token duration from now */
  expires: Date | null;
  /** when the user authenticated (auth_time) */
  authTime: Date;
  /** the authenticated session's key, which is its `sid` (already authentik's hashed key: sessions/session-hash.ts) */
  sessionKey?: string | null;
  /** or its hash as grants keep it (`sid` itself) */
  sid?: string | null;
  loginEvent?: LoginEvent | null;
  /** or the amr already known (kept with a code or a grant's ID token) */
  amr?: string[] | null;
  /** the scope mappings' claims, when the provider includes claims in the ID token */
  claims?: Record<string, unknown>;
  now?: Date;
}

/** `IDToken.new` */
export function newIdToken(input: NewIdTokenInput): IdToken {
  const now = input.now ?? new Date();
  const expires = input.expires ?? new Date(now.getTime() + DEFAULT_TOKEN_DURATION_MS);
  const t: IdToken = {
    iss: issuerOf(input.provider, input.origin),
    sub: subjectOf(input.provider.sub_mode, input.user, input.installId),
    aud: input.provider.client_id,
    exp: Math.floor(expires.getTime() / 1000),
    iat: Math.floor(now.getTime() / 1000),
    auth_time: Math.floor(input.authTime.getTime() / 1000),
    acr: ACR_AUTHENTIK_DEFAULT,
    claims: input.claims ?? {},
  };
  if (input.sid) t.sid = input.sid;
  else if (input.sessionKey) t.sid = input.sessionKey;
  const amr = input.amr?.length ? input.amr : amrOf(input.loginEvent);
  if (amr) t.amr = amr;
  return t;
}

/** `to_dict`: the set claims in authentik's order, then the mappings' claims over them */
export function idTokenClaims(t: IdToken): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of FIELDS) if (t[k] !== undefined && t[k] !== null) out[k] = t[k];
  return Object.assign(out, t.claims);
}

/** `to_access_token`'s payload: the ID token's claims plus `azp` (the client id) and a random `uid` */
export function accessTokenClaims(t: IdToken, clientId: string, uid = generateId()): Record<string, unknown> {
  return { ...idTokenClaims(t), azp: clientId, uid };
}

/** the stored form of an ID token on a grant row (authentik's `_id_token`: asdict, claims included) */
export const serializeIdToken = (t: IdToken): string => JSON.stringify(t);

/** back from the stored form */
export function parseIdToken(raw: string): IdToken {
  const v = JSON.parse(raw) as Partial<IdToken>;
  const t: IdToken = { claims: {} };
  for (const k of FIELDS) if (v[k] !== undefined && v[k] !== null) (t as any)[k] = v[k];
  t.claims = v.claims && typeof v.claims === 'object' ? v.claims : {};
  return t;
}
