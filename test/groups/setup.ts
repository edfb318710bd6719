/** What the group suites share: users with API tokens of their own, and raw calls with another user's token. */
import assert from 'node:assert/strict';
import { call, type TestServer } from '../helpers/server.js';

/** a user (with an e-mail, as PartialUser's schema wants one) */
export async function createUser(srv: TestServer, username: string, extra: Record<string, unknown> = {}): Promise<number> {
  const r = await call(srv, 'POST', '/core/users/', { username, name: username, email: `${username}@example.com`, ...extra });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.pk as number;
}

/** a non-expiring API token for `userId`, with a key of our choosing */
export async function tokenFor(srv: TestServer, userId: number, key: string): Promise<string> {
  const identifier = `tok-${userId}-${key.slice(0, 8)}`;
  const t = await call(srv, 'POST', '/core/tokens/', { identifier, intent: 'api', user: userId, expiring: false });
  assert.equal(t.status, 201, JSON.stringify(t.body));
  assert.equal((await call(srv, 'POST', `/core/tokens/${identifier}/set_key/`, { key })).status, 204);
  return key;
}

/** `call` with another bearer token */
export const callAs = (srv: TestServer, token: string, method: string, path: string, body?: unknown) =>
  call(srv, method, path, body, { authorization: `Bearer ${token}` });

export async function createGroup(srv: TestServer, body: Record<string, unknown>): Promise<any> {
  const r = await call(srv, 'POST', '/core/groups/', body);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

export const names = (r: { body: { results: { name: string }[] } }) => r.body.results.map((g) => g.name);
