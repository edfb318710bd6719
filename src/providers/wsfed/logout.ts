/**
 * When a Keystage session ends by logout, each WS-Federation relying party it signed into is told to clean up
 * (authentik's `handle_ws_fed_iframe_pre_user_logout`): its reply URL with `wa=wsignoutcleanup1.0` in an iframe of
 * the logout flow — the front-channel logout stage right after the logout (shared with OAuth2 and SAML). The sessions
 * are the rows endpoint.ts records in `saml_sessions` (as authentik keeps SAMLSessions for them); expired ones are
 * skipped, every one is deleted. A session ended from elsewhere (no flow plan to show a page in) only loses its rows.
 */
import type { Services } from '../../services.js';
import { insertIframeLogout, type LogoutURL } from '../oauth2/index.js';
import { takeSessions } from '../saml/index.js';
import { wsfedProviderById } from './config.js';

export const SIGN_OUT_CLEANUP = 'wsignoutcleanup1.0';

/** the reply URL with its query replaced by `wa=wsignoutcleanup1.0` (authentik's urlunparse of the ACS URL) */
export function cleanupUrl(replyUrl: string): string | undefined {
  try {
    const u = new URL(replyUrl);
    u.search = new URLSearchParams({ wa: SIGN_OUT_CLEANUP }).toString();
    return u.toString();
  } catch {
    return undefined;
  }
}

export function endWsfedSessionsWithSessions(svc: Services): void {
  svc.sessions.onLogout(async (sessionKey, session) => {
    const rows = await takeSessions(svc, sessionKey, 'wsfederationprovider');
    if (!rows.length) return;
    const plan = session?.data.plan;
    if (!plan) return;
    const now = Date.now();
    const urls: LogoutURL[] = [];
    const told = new Set<number>();
    for (const row of rows) {
      if (new Date(row.expires).getTime() <= now || told.has(Number(row.provider_id))) continue;
      told.add(Number(row.provider_id));
      const provider = await wsfedProviderById(svc, Number(row.provider_id));
      const url = provider ? cleanupUrl(provider.acs_url) : undefined;
      if (provider && url) urls.push({ url, provider_name: provider.name, binding: 'redirect' });
    }
    // (the logout stage is still the plan's current binding: the iframes come right after it)
    if (urls.length) insertIframeLogout(plan, urls, 1);
  });
}
