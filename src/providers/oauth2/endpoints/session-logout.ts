/**
 * When a Keystage session ends by logout, the OAuth2 access tokens issued in it end too, and each provider with a
 * back-channel logout URI is told (authentik's signal on AuthenticatedSession deletion: send_backchannel_logout_request
 * per token, then the tokens are deleted with the session).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Services } from '../../../services.js';
import { oauth2ProviderById } from '../config.js';
import { parseIdToken, sidOf } from '../protocol/id-token.js';
import { sendBackchannelLogout } from './end-session.js';
import { keysOf } from './keys.js';

export function endTokensWithSessions(svc: Services, log: FastifyBaseLogger) {
  svc.sessions.onLogout(async (sessionKey) => {
    const sid = sidOf(sessionKey);
    const tokens = await svc.db
      .selectFrom('oauth2_access_tokens')
      .select(['id', 'provider_id', 'id_token'])
      .where('session_id', '=', sid)
      .execute();
    if (!tokens.length) return;
    const told = new Set<number>();
    for (const t of tokens) {
      if (told.has(t.provider_id)) continue;
      told.add(t.provider_id);
      const provider = await oauth2ProviderById(svc, t.provider_id);
      if (!provider || provider.logout_method !== 'backchannel' || !provider.logout_uri) continue;
      const id = parseIdToken(t.id_token);
      await sendBackchannelLogout(log, provider, await keysOf(svc, provider), { iss: id.iss, sub: id.sub, sid });
    }
    await svc.db.deleteFrom('oauth2_access_tokens').where('session_id', '=', sid).execute();
    await svc.db.deleteFrom('oauth2_authorization_codes').where('session_id', '=', sid).execute();
  });
}
