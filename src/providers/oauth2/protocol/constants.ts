/** authentik's OAuth2/OpenID constants (authentik/common/oauth/constants.py, providers/oauth2/models.py). */

export const GRANT_TYPE_AUTHORIZATION_CODE = 'authorization_code';
export const GRANT_TYPE_IMPLICIT = 'implicit';
export const GRANT_TYPE_HYBRID = 'hybrid';
export const GRANT_TYPE_REFRESH_TOKEN = 'refresh_token';
export const GRANT_TYPE_CLIENT_CREDENTIALS = 'client_credentials';
export const GRANT_TYPE_PASSWORD = 'password';
export const GRANT_TYPE_DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';
export const GRANT_TYPE_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** RFC 8693's token type identifiers the token exchange reads or issues */
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
export const TOKEN_TYPE_ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';

export const CLIENT_ASSERTION_TYPE_JWT = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export const PROMPT_NONE = 'none';
export const PROMPT_CONSENT = 'consent';
export const PROMPT_LOGIN = 'login';
export const ALLOWED_PROMPT_PARAMS: ReadonlySet<string> = new Set([PROMPT_NONE, PROMPT_CONSENT, PROMPT_LOGIN]);

export const SCOPE_OPENID = 'openid';
export const SCOPE_OPENID_PROFILE = 'profile';
export const SCOPE_OPENID_EMAIL = 'email';
export const SCOPE_OFFLINE_ACCESS = 'offline_access';
export const SCOPE_AUTHENTIK_API = 'goauthentik.io/api';
/** an access token with it registers clients (dynamic client registration, dcr/register.ts) */
export const SCOPE_AUTHENTIK_DCR = 'goauthentik.io/oidc/dcr';

export const PKCE_METHOD_PLAIN = 'plain';
export const PKCE_METHOD_S256 = 'S256';

export const TOKEN_TYPE = 'Bearer';

export const ACR_AUTHENTIK_DEFAULT = 'goauthentik.io/providers/oauth2/default';

/** draft-ietf-oauth-amr-values */
export const AMR_PASSWORD = 'pwd';
export const AMR_MFA = 'mfa';
export const AMR_OTP = 'otp';
export const AMR_WEBAUTHN = 'user';
export const AMR_SMART_CARD = 'sc';

/** schemes a redirect URI may never have, even when an entry matches it (views/authorize.py) */
export const FORBIDDEN_URI_SCHEMES: ReadonlySet<string> = new Set(['javascript', 'data', 'vbscript']);

export const RESPONSE_TYPE_CODE = 'code';
export const RESPONSE_TYPE_ID_TOKEN = 'id_token';
export const RESPONSE_TYPE_ID_TOKEN_TOKEN = 'id_token token';
export const RESPONSE_TYPE_CODE_TOKEN = 'code token';
export const RESPONSE_TYPE_CODE_ID_TOKEN = 'code id_token';
export const RESPONSE_TYPE_CODE_ID_TOKEN_TOKEN = 'code id_token token';
export const RESPONSE_TYPES = [
  RESPONSE_TYPE_CODE,
  RESPONSE_TYPE_ID_TOKEN,
  RESPONSE_TYPE_ID_TOKEN_TOKEN,
  RESPONSE_TYPE_CODE_TOKEN,
  RESPONSE_TYPE_CODE_ID_TOKEN,
  RESPONSE_TYPE_CODE_ID_TOKEN_TOKEN,
] as const;

export const RESPONSE_MODE_QUERY = 'query';
export const RESPONSE_MODE_FRAGMENT = 'fragment';
export const RESPONSE_MODE_FORM_POST = 'form_post';
export const RESPONSE_MODES = [RESPONSE_MODE_QUERY, RESPONSE_MODE_FRAGMENT, RESPONSE_MODE_FORM_POST] as const;
export type ResponseMode = (typeof RESPONSE_MODES)[number];
