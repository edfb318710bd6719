/**
 * plex.tv as authentik's PlexAuth asks it (`KEYSTAGE_PLEX_URL`, https://plex.tv): who a token belongs to
 * (`/api/v2/user`), the servers it reaches (`/api/v2/resources`) and the owner's friends (`/api/v2/friends`) — and
 * whether a person may log in: the source's owner or a friend of theirs (`allow_friends`), or a member of an allowed
 * server (none listed: no one by membership).
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
  /** plex.tv's answer as it came (a mapping's `info`) */
  raw: Record<string, unknown>;
}

export async function plexUser(base: string, token: string, clientId: string): Promise<PlexUser> {
  const u = (await get(base, '/api/v2/user', token, clientId)) as Record<string, unknown>;
  if (u.id === undefined || u.id === null) throw new PlexError('Plex gave no user id');
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  return { id: String(u.id), properties: { username: text(u.username), email: text(u.email), name: text(u.title) }, raw: u };
}

/** authentik's check_friends_overlap: the owner themselves, or a friend of theirs; a failed friends request lets no one in */
async function ownerOrFriend(base: string, source: { client_id: string; ownerToken: string }, userId: string): Promise<boolean> {
  const owner = await plexUser(base, source.ownerToken, source.client_id);
  if (owner.id === userId) return true;
  try {
    const friends = (await get(base, '/api/v2/friends', source.ownerToken, source.client_id)) as { id?: unknown }[];
    return Array.isArray(friends) && friends.some((f) => String(f.id) === userId);
  } catch (e) {
    if (e instanceof PlexError) return false;
    throw e;
  }
}

/** authentik's check_server_overlap: a server (exactly) the token reaches is one of the allowed ones */
async function sharesServer(base: string, source: { client_id: string; allowed_servers: string[] }, token: string): Promise<boolean> {
  const resources = (await get(base, '/api/v2/resources', token, source.client_id)) as { provides?: unknown; clientIdentifier?: unknown }[];
  return (
    Array.isArray(resources) &&
    resources.some((r) => r.provides === 'server' && source.allowed_servers.includes(String(r.clientIdentifier)))
  );
}

/** authentik's redeem_token: friendship (when allowed) first, then a shared server; no allowed server lets no one in by itself */
export async function mayLogIn(
  base: string,
  source: { client_id: string; allowed_servers: string[]; allow_friends: boolean; ownerToken: string },
  token: string,
  userId: string,
): Promise<boolean> {
  if (source.allow_friends && source.ownerToken && (await ownerOrFriend(base, source, userId))) return true;
  return sharesServer(base, source, token);
}
