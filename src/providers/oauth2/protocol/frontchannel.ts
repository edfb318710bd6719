/**
 * OpenID Connect Front-Channel Logout 1.0 as authentik builds it (`build_frontchannel_logout_url`): the provider's
 * logout_uri with `iss` and `sid` (the hashed session key) first, its own query parameters kept after them.
 */
export function frontchannelLogoutUrl(logoutUri: string, iss: string | undefined, sid: string | undefined): string | undefined {
  if (!logoutUri) return undefined;
  let u: URL;
  try {
    u = new URL(logoutUri);
  } catch {
    return undefined;
  }
  const params = new URLSearchParams();
  if (iss) params.set('iss', iss);
  if (sid) params.set('sid', sid);
  for (const [k, v] of u.searchParams) if (!params.has(k)) params.append(k, v);
  u.search = params.toString();
  return u.toString();
}
