/** The browser interfaces' calls to /api/v3/: JSON with the session cookie, and the CSRF header on writes (as authentik's UI). */
import { cookie } from './base.js';

/** an answer other than 2xx (403: not logged in, or no longer) */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** the answer's JSON body, if any (a 400's field errors, a 403's or 404's `detail`) */
    readonly body?: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}

export type Method = 'GET' | 'DELETE' | 'POST' | 'PATCH' | 'PUT';

/**
 * the answer as it comes (a caller reading something other than JSON: an export, metadata); `body` is sent as JSON,
 * or as it is when it is a file upload's FormData
 */
export function request(path: string, method: Method = 'GET', body?: unknown): Promise<Response> {
  const form = body instanceof FormData;
  return fetch(`/api/v3${path}`, {
    method,
    credentials: 'same-origin',
    headers: {
      accept: 'application/json',
      ...(method === 'GET' ? {} : { 'x-authentik-csrf': cookie('authentik_csrf') }),
      ...(body === undefined || form ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : form ? body : JSON.stringify(body),
  });
}

export async function api<T>(path: string, method: Method = 'GET', body?: unknown): Promise<T> {
  const res = await request(path, method, body);
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => undefined));
  return (res.status === 204 ? undefined : await res.json()) as T;
}

/** the first message of a 400's field errors (authentik's shape: `{field: ["message"]}`) */
export function firstError(e: unknown): string | undefined {
  const body = e instanceof ApiError && e.status === 400 ? e.body : undefined;
  if (!body || typeof body !== 'object') return undefined;
  for (const [field, v] of Object.entries(body as Record<string, unknown>)) {
    const m = Array.isArray(v) ? v[0] : v;
    if (typeof m === 'string') return field === 'non_field_errors' || field === 'detail' ? m : `${field}: ${m}`;
  }
  return undefined;
}

/** an error's message for a page: a 400's first field error, the API's `detail`, else the status */
export function messageOf(e: unknown): string {
  const field = firstError(e);
  if (field) return field;
  if (e instanceof ApiError) {
    const detail = (e.body as { detail?: unknown } | undefined)?.detail;
    return typeof detail === 'string' ? detail : `The server answered ${e.status}.`;
  }
  return 'The server could not be reached.';
}

/** where someone who is not (or no longer) logged in goes: the login, then back to `page` */
export const loginThen = (page: string) => `/flows/-/default/authentication/?next=${encodeURIComponent(page)}`;

/** every page of a list endpoint (the user's own objects: a handful), `pages` of 100 at the most */
export async function all<T>(path: string, pages = 20): Promise<T[]> {
  const out: T[] = [];
  for (let page = 1; page <= pages; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const r = await api<{ results: T[]; pagination: { next: number } }>(`${path}${sep}page=${page}&page_size=100`);
    out.push(...r.results);
    if (!r.pagination.next) break;
  }
  return out;
}

export const dateTime = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');
