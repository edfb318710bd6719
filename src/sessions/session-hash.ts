/**
 * authentik's `hash_session_key`: a session's key as other parties see it — the OpenID Connect `sid` claim, the
 * session an OAuth2 grant or a SAML session belongs to, a CAEP session-revoked's session id, the flow inspector's
 * session — SHA-256 in hex, never the key itself.
 */
import { createHash } from 'node:crypto';

export const hashSessionKey = (sessionKey: string) => createHash('sha256').update(sessionKey, 'latin1').digest('hex');
