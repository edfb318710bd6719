/**
 * plex.tv as authentik's PlexAuth asks it (`KEYSTAGE_PLEX_URL`, https://plex.tv): who a token belongs to
 * (`/api/v2/user`), the servers it reaches (`/api/v2/resources`) and the owner's friends (`/api/v2/friends`) — and
 * whether a person may log in: a friend of the source's owner (`allow_friends`) or a member of an allowed server (any
 * server when none is listed).
 */
const HEADERS = { accept: 'application/json', 'x-plex-product': 'Keystage', 'x-plex-version': '1', 'x-plex-device-vendor': 'Keystage' };
const TIMEOUT_MS = 10_000;

export class PlexError extends Error {}

async function get(base: string, path: string, token: string, clientId: string): Promise<unknown> {
  const q = new URLSearchParams({ 'X-Plex-Token': token, 'X-Plex-Client-Identifier': clientId });
  const res = await fetch(`${base}${path}?${q}`, { headers: HEADERS, signal: AbortSignal.timeout(TIMEOUT_MS) }).catch((e: Error) => {
    throw new PlexError(e.message);
  });
  if (!res.ok) throw new PlexError(`Plex answered ${res.status}`);
  return res.json();
}

export interface PlexUser {
  id: string;
  properties: { username: string | null; email: string | null; name: string | null };
}

export async function plexUser(base: string, token: string, clientId: string): Promise<PlexUser> {
  const u = (await get(base, '/api/v2/user', token, clientId)) as Record<string, unknown>;
  if (u.id === undefined || u.id === null) throw new PlexError('Plex gave no user id');
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  return { id: String(u.id), properties: { username: text(u.username), email: text(u.email), name: text(u.title) } };
}

export async function mayLogIn(
  base: string,
  source: { client_id: string; allowed_servers: string[]; allow_friends: boolean; ownerToken: string },
  token: string,
  userId: string,
): Promise<boolean> {
  if (source.allow_friends && source.ownerToken) {
    const friends = (await get(base, '/api/v2/friends', source.ownerToken, source.client_id)) as { id?: unknown }[];
    if (Array.isArray(friends) && friends.some((f) => String(f.id) === userId)) return true;
  }
  if (!source.allowed_servers.length) return true;
  const resources = (await get(base, '/api/v2/resources', token, source.client_id)) as { provides?: string; clientIdentifier?: string }[];
  return (
    Array.isArray(resources) &&
    resources.some((r) => (r.provides ?? '').split(',').includes('server') && source.allowed_servers.includes(String(r.clientIdentifier)))
  );
}
