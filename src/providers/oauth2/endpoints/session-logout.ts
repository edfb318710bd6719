/**
 * When a Keystage session ends by logout, the OAuth2 access tokens issued in it end too, and each provider with a
 * logout URI is told: back-channel providers by a logout token (authentik's signal on AuthenticatedSession deletion:
 * send_backchannel_logout_request per token), front-channel providers by their logout URL in an iframe — the logout
 * flow that ended the session gets the iframe stage right after the logout (authentik's `flow_pre_user_logout`).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Services } from '../../../services.js';
import { oauth2ProviderById } from '../config.js';
import { frontchannelLogoutUrl } from '../protocol/frontchannel.js';
import { parseIdToken } from '../protocol/id-token.js';
import { insertIframeLogout, type LogoutURL } from '../stages/iframe-logout/index.js';
import { sendBackchannelLogout } from './end-session.js';
import { keysOf } from './keys.js';

export function endTokensWithSessions(svc: Services, log: FastifyBaseLogger) {
  svc.sessions.onLogout(async (sessionKey, session) => {
    // (a session's key is its `sid`: sessions/session-hash.ts)
    const sid = sessionKey;
    const tokens = await svc.db
      .selectFrom('oauth2_access_tokens')
      .select(['id', 'provider_id', 'id_token'])
      .where('session_id', '=', sid)
      .execute();
    if (!tokens.length) return;
    const told = new Set<number>();
    const frontchannel: LogoutURL[] = [];
    for (const t of tokens) {
      if (told.has(t.provider_id)) continue;
      told.add(t.provider_id);
      const provider = await oauth2ProviderById(svc, t.provider_id);
      if (!provider || !provider.logout_uri) continue;
      const id = parseIdToken(t.id_token);
      if (provider.logout_method === 'backchannel')
        await sendBackchannelLogout(log, provider, await keysOf(svc, provider), { iss: id.iss, sub: id.sub, sid });
      else {
        const url = frontchannelLogoutUrl(provider.logout_uri, id.iss, sid);
        if (url) frontchannel.push({ url, provider_name: provider.name, binding: 'redirect' });
      }
    }
    // (the logout stage is still the plan's current binding: the iframes come right after it)
    if (session?.data.plan && frontchannel.length) insertIframeLogout(session.data.plan, frontchannel, 1);
    // (codes first, in one transaction: no code of the ended session is redeemed into a token after its tokens went)
    await svc.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('oauth2_authorization_codes').where('session_id', '=', sid).execute();
      await tx.deleteFrom('oauth2_access_tokens').where('session_id', '=', sid).execute();
    });
  });
}
