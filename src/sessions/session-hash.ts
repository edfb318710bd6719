/**
 * A browser session's cookie holds a random token; the database holds only the token's SHA-256 in hex, as the row's
 * `session_key`. A read of the database (a backup, a leaked dump) gives no session anyone can use.
 *
 * That key is also what other parties see of a session, where authentik hashes its own stored key
 * (`hash_session_key`): the OpenID Connect `sid` claim, the session an OAuth2 grant or a SAML session belongs to, a CAEP
 * session-revoked's session id, the flow inspector's session. The values are the ones Keystage gave before it hashed
 * keys at rest (migration 0048 put each stored key through this function once).
 */
import { createHash } from 'node:crypto';

/** the stored key (and `sid`) of a session whose cookie holds `token` */
export const sessionKeyOf = (token: string) => createHash('sha256').update(token, 'latin1').digest('hex');
