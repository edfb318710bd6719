/**
 * Duo Auth API v2 calls, signed as Duo documents: HMAC-SHA512 (secret key) over
 * `date \n METHOD \n host \n path \n sorted-RFC3986-params`, sent as `Authorization: Basic ikey:signature` with the
 * same `Date` header. (`@duosecurity/duo_api` pins TLS to Duo's CAs and cannot talk to a local test double, so the
 * signing lives here, in one place.)
 */
import { createHmac } from 'node:crypto';

export interface DuoCredentials {
  client_id: string;
  client_secret: string;
  api_hostname: string;
}

const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function canonParams(params: Record<string, string>): string {
  return Object.keys(params)
    .sort()
    .map((k) => `${rfc3986(k)}=${rfc3986(params[k]!)}`)
    .join('&');
}

export function sign(
  creds: DuoCredentials,
  date: string,
  method: string,
  host: string,
  path: string,
  params: Record<string, string>,
): string {
  const canon = [date, method.toUpperCase(), host.toLowerCase(), path, canonParams(params)].join('\n');
  const sig = createHmac('sha512', creds.client_secret).update(canon).digest('hex');
  return `Basic ${Buffer.from(`${creds.client_id}:${sig}`).toString('base64')}`;
}

/** `api-xxxx.duosecurity.com` → https; a full `http(s)://host:port` (a local double in tests) is used as given */
function base(apiHostname: string): URL {
  return new URL(/^https?:\/\//.test(apiHostname) ? apiHostname : `https://${apiHostname}`);
}

export async function duoCall<T = Record<string, unknown>>(
  creds: DuoCredentials,
  path: string,
  params: Record<string, string>,
  timeoutMs = 30_000,
): Promise<T> {
  const url = base(creds.api_hostname);
  const date = new Date().toUTCString().replace('GMT', '-0000');
  const body = canonParams(params);
  const res = await fetch(new URL(path, url), {
    method: 'POST',
    headers: {
      date,
      authorization: sign(creds, date, 'POST', url.host, path, params),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const json = (await res.json()) as { stat?: string; response?: T; message?: string };
  if (!res.ok || json.stat !== 'OK' || json.response === undefined) throw new Error(`Duo: ${json.message ?? res.status}`);
  return json.response;
}

/** the user Duo's Admin API lists (`GET /admin/v1/users`): the fields an import reads */
export interface DuoAdminUser {
  user_id: string;
  username: string;
}

/**
 * Every user of the Duo account, through the Admin API (`GET /admin/v1/users`, signed with the admin integration's
 * key pair, paged by `limit`/`offset` as Duo's `get_users_iterator`). Throws with Duo's message on a refusal.
 */
export async function* duoAdminUsers(creds: DuoCredentials, pageSize = 300, timeoutMs = 30_000): AsyncGenerator<DuoAdminUser> {
  const url = base(creds.api_hostname);
  const path = '/admin/v1/users';
  for (let offset = 0, pages = 0; pages < 10_000; pages++) {
    const params = { limit: String(pageSize), offset: String(offset) };
    const date = new Date().toUTCString().replace('GMT', '-0000');
    const target = new URL(path, url);
    target.search = canonParams(params);
    const res = await fetch(target, {
      headers: { date, authorization: sign(creds, date, 'GET', url.host, path, params) },
      signal: AbortSignal.timeout(timeoutMs),
    });
    const json = (await res.json()) as { stat?: string; response?: DuoAdminUser[]; message?: string; metadata?: { next_offset?: number } };
    if (!res.ok || json.stat !== 'OK' || !Array.isArray(json.response)) throw new Error(`Duo: ${json.message ?? res.status}`);
    for (const u of json.response) yield u;
    const next = json.metadata?.next_offset;
    if (typeof next !== 'number' || next <= offset) return;
    offset = next;
  }
}
