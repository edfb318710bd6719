/**
 * A Plex source's login from the page (authentik's web `PlexAPIClient`): a PIN from plex.tv, approved by the person in
 * Plex's own window, polled until plex.tv gives its token, which /sources/plex/redeem_token/ turns into the redirect
 * to the source's flow.
 */
import { cookie } from './base.js';

const PLEX = 'https://plex.tv';
const POLL_MS = 1000;
const POLL_LIMIT = 300;

export async function plexLogin(clientId: string, slug: string): Promise<string> {
  const headers = { accept: 'application/json', 'X-Plex-Product': 'Keystage', 'X-Plex-Client-Identifier': clientId };
  const pinRes = await fetch(`${PLEX}/api/v2/pins?strong=true`, { method: 'POST', headers });
  if (!pinRes.ok) throw new Error('Plex did not answer.');
  const pin = (await pinRes.json()) as { id: number; code: string };
  const auth = new URLSearchParams({ clientID: clientId, code: pin.code, 'context[device][product]': 'Keystage' });
  const popup = window.open(`https://app.plex.tv/auth#?${auth.toString()}`, 'plex auth', 'width=800,height=600');
  let token = '';
  for (let i = 0; i < POLL_LIMIT && !token; i++) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    const res = await fetch(`${PLEX}/api/v2/pins/${pin.id}`, { headers });
    if (res.ok) token = ((await res.json()) as { authToken?: string | null }).authToken ?? '';
  }
  popup?.close();
  if (!token) throw new Error('Plex sign-in timed out.');
  const redeemed = await fetch(`/api/v3/sources/plex/redeem_token/?slug=${encodeURIComponent(slug)}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', accept: 'application/json', 'x-authentik-csrf': cookie('authentik_csrf') },
    body: JSON.stringify({ plex_token: token }),
  });
  const body = (await redeemed.json().catch(() => ({}))) as { to?: string; detail?: string; non_field_errors?: string[] };
  if (!redeemed.ok || !body.to) throw new Error(body.detail ?? body.non_field_errors?.[0] ?? 'Access denied.');
  return body.to;
}
