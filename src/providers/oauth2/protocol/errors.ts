/**
 * authentik's OAuth2 errors (authentik/common/oauth/errors.py): the same `error` codes and descriptions, the same
 * error redirect (`create_uri`) and JSON bodies (`create_dict`). `cause` names which check failed, as authentik's
 * `with_cause` does (its tests assert it; it is not sent).
 */
import { GRANT_TYPE_HYBRID, GRANT_TYPE_IMPLICIT } from './constants.js';

export abstract class OAuth2Error extends Error {
  abstract readonly error: string;
  abstract readonly description: string;
  override cause: string | undefined = undefined;

  withCause(cause: string): this {
    this.cause = cause;
    return this;
  }

  /** `create_dict`: the JSON body of the token, revoke and device endpoints */
  body(): { error: string; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

/** The redirect_uri is missing, unknown or refused: shown as a page, never sent to the URI. */
export class RedirectUriError extends OAuth2Error {
  readonly error = 'Redirect URI Error';
  readonly description = 'The request fails due to a missing, invalid, or mismatching redirection URI (redirect_uri).';
  constructor(
    readonly providedUri: string,
    readonly allowedUris: readonly { url: string }[],
  ) {
    super('redirect_uri');
  }
}

/** The client_id names no provider: shown as a page. */
export class ClientIdError extends OAuth2Error {
  readonly error = 'Client ID Error';
  readonly description = 'The client identifier (client_id) is missing or invalid.';
  constructor(readonly clientId: string) {
    super('client_id');
  }
}

/** Resource-owner credentials refused (the password grant): 403. */
export class UserAuthError extends OAuth2Error {
  readonly error = 'access_denied';
  readonly description = 'The resource owner or authorization server denied the request.';
}

const AUTHORIZE_ERRORS: Record<string, string> = {
  invalid_request: 'The request is otherwise malformed',
  unauthorized_client: 'The client is not authorized to request an authorization code using this method',
  access_denied: 'The resource owner or authorization server denied the request',
  unsupported_response_type: 'The authorization server does not support obtaining an authorization code using this method',
  invalid_scope: 'The requested scope is invalid, unknown, or malformed',
  server_error: 'The authorization server encountered an error',
  temporarily_unavailable:
    'The authorization server is currently unable to handle the request due to a temporary overloading or maintenance of the server',
  interaction_required: 'The Authorization Server requires End-User interaction of some form to proceed',
  login_required: 'The Authorization Server requires End-User authentication',
  account_selection_required: 'The End-User is required to select a session at the Authorization Server',
  consent_required: 'The Authorization Server requires End-User consent',
  invalid_request_uri: 'The request_uri in the Authorization Request returns an error or contains invalid data',
  invalid_request_object: 'The request parameter contains an invalid Request Object',
  request_not_supported: 'The provider does not support use of the request parameter',
  request_uri_not_supported: 'The provider does not support use of the request_uri parameter',
  registration_not_supported: 'The provider does not support use of the registration parameter',
};

/** what an authorization error becomes: a redirect to the (matched) redirect URI, or a 400 page */
export type AuthorizeErrorResponse = { redirect: string } | { page: { title: string; description: string } };

/** An error of the authorization endpoint, sent to the client's redirect URI (only raised once that URI matched). */
export class AuthorizeError extends OAuth2Error {
  readonly description: string;
  constructor(
    readonly redirectUri: string,
    readonly error: string,
    readonly grantType: string,
    readonly state: string | undefined,
    description?: string,
  ) {
    super(error);
    this.description = description ?? AUTHORIZE_ERRORS[error] ?? error;
  }

  /** `create_uri`: the redirect URI with error, error_description and state appended as authentik writes them */
  createUri(): string {
    const sep = this.grantType === GRANT_TYPE_IMPLICIT || this.grantType === GRANT_TYPE_HYBRID ? '#' : '?';
    const uri = `${this.redirectUri}${sep}error=${this.error}&error_description=${pyQuote(this.description)}`;
    return uri + (this.state ? `&state=${this.state}` : '');
  }

  /** `get_response`: a redirect when the URI has a scheme, else the bad-request page */
  response(): AuthorizeErrorResponse {
    const uri = this.createUri();
    if (schemeOf(uri) !== '') return { redirect: uri };
    return { page: { title: this.error, description: this.description } };
  }
}

const TOKEN_ERRORS: Record<string, string> = {
  invalid_request: 'The request is otherwise malformed',
  invalid_client:
    'Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method)',
  invalid_grant:
    'The provided authorization grant or refresh token is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client',
  unauthorized_client: 'The authenticated client is not authorized to use this authorization grant type',
  unsupported_grant_type: 'The authorization grant type is not supported by the authorization server',
  invalid_scope: 'The requested scope is invalid, unknown, malformed, or exceeds the scope granted by the resource owner',
  // RFC 9449 §5
  invalid_dpop_proof: 'The DPoP proof is invalid',
};

export type TokenErrorCode = keyof typeof TOKEN_ERRORS & string;

/** An error of the token endpoint (RFC 6749 §5.2): 400 with `create_dict()`. */
export class TokenError extends OAuth2Error {
  readonly description: string;
  constructor(readonly error: string) {
    super(error);
    this.description = TOKEN_ERRORS[error] ?? error;
  }
}

const REVOCATION_ERRORS: Record<string, string> = {
  ...TOKEN_ERRORS,
  unsupported_token_type:
    'The authorization server does not support the revocation of the presented token type.  That is, the client tried to revoke an access token on a server notsupporting this feature.',
};

/** An error of the revocation endpoint (RFC 7009). */
export class TokenRevocationError extends OAuth2Error {
  readonly description: string;
  constructor(readonly error: string) {
    super(error);
    this.description = REVOCATION_ERRORS[error] ?? error;
  }
}

const DEVICE_CODE_ERRORS: Record<string, string> = {
  ...TOKEN_ERRORS,
  slow_down: 'The client is polling too quickly and should back off at a reasonable rate.',
  authorization_pending: "The authorization request is still pending as the end user hasn't yet completed the user-interaction steps",
  access_denied: 'The authorization request was denied.',
  expired_token:
    'The "device_code" has expired, and the device authorization session has concluded.  The client MAY commence a new device authorization request but SHOULD wait for user interaction before restarting to avoid unnecessary polling.',
};

/** An error of the device-code grant (RFC 8628 §3.5). */
export class DeviceCodeError extends OAuth2Error {
  readonly description: string;
  constructor(readonly error: string) {
    super(error);
    this.description = DEVICE_CODE_ERRORS[error] ?? error;
  }
}

const BEARER_ERRORS: Record<string, [string, number]> = {
  invalid_request: ['The request is otherwise malformed', 400],
  invalid_token: ['The access token provided is expired, revoked, malformed, or invalid for other reasons', 401],
  insufficient_scope: ['The request requires higher privileges than provided by the access token', 403],
};

/** A refused bearer token at a protected resource (userinfo), RFC 6750 §3.1. */
export class BearerTokenError extends OAuth2Error {
  readonly description: string;
  readonly status: number;
  constructor(readonly error: string) {
    super(error);
    const [description, status] = BEARER_ERRORS[error] ?? ['', 400];
    this.description = description;
    this.status = status;
  }
}

const QUOTE_UNRESERVED = /[A-Za-z0-9_.\-~]/;

/** Python's `urllib.parse.quote(s, safe)`: UTF-8 percent-encoding leaving letters, digits, `_.-~` and `safe`. */
export function pyQuote(s: string, safe = '/'): string {
  let out = '';
  for (const ch of s) {
    if (QUOTE_UNRESERVED.test(ch) || (safe.includes(ch) && ch.length === 1)) {
      out += ch;
      continue;
    }
    for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The scheme of a URL as Python's `urlsplit` finds it (lower-cased; '' when there is none): leading C0 controls and
 * spaces are stripped and tabs and newlines removed first, the scheme starts with an ASCII letter and holds letters,
 * digits, `+`, `-` and `.` up to the first `:`.
 */
export function schemeOf(url: string): string {
  const cleaned = url.replace(/^[\x00-\x20]+/, '').replace(/[\t\r\n]/g, '');
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(cleaned);
  return m ? m[1]!.toLowerCase() : '';
}
