/** Building flows and users for executor tests through the admin API. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { call, type TestServer } from './server.js';
import { Browser } from './browser.js';
import { sessionKeyOf } from '../../src/sessions/session-hash.js';

export async function createUser(
  srv: TestServer,
  username: string,
  password: string,
  extra: Record<string, unknown> = {},
): Promise<number> {
  const u = await call(srv, 'POST', '/core/users/', { username, name: `${username} Example`, email: `${username}@example.com`, ...extra });
  assert.equal(u.status, 201, JSON.stringify(u.body));
  assert.equal((await call(srv, 'POST', `/core/users/${u.body.pk}/set_password/`, { password })).status, 204);
  return u.body.pk;
}

export async function stagePk(srv: TestServer, path: string, name: string): Promise<string> {
  const r = await call(srv, 'GET', `${path}?name=${encodeURIComponent(name)}`);
  return r.body.results[0].pk;
}

/** a flow binding the given stages in order; returns its slug */
export async function flowOf(srv: TestServer, slug: string, stages: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const f = await call(srv, 'POST', '/flows/instances/', { name: slug, slug, title: slug, designation: 'authentication', ...extra });
  assert.equal(f.status, 201, JSON.stringify(f.body));
  let order = 10;
  for (const stage of stages) {
    const b = await call(srv, 'POST', '/flows/bindings/', { target: f.body.pk, stage, order });
    assert.equal(b.status, 201, JSON.stringify(b.body));
    order += 10;
  }
  return slug;
}

export async function createStage(srv: TestServer, path: string, body: Record<string, unknown>): Promise<string> {
  const r = await call(srv, 'POST', path, body);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.pk;
}

export const defaultStages = async (srv: TestServer) => ({
  identification: await stagePk(srv, '/stages/identification/', 'default-authentication-identification'),
  password: await stagePk(srv, '/stages/password/', 'default-authentication-password'),
  mfa: await stagePk(srv, '/stages/authenticator/validate/', 'default-authentication-mfa-validation'),
  login: await stagePk(srv, '/stages/user_login/', 'default-authentication-login'),
});

export const withoutUser = (c: Record<string, unknown>) => {
  const { pending_user: _u, pending_user_avatar: _a, ...rest } = c;
  return rest;
};

/** the `sessions` row behind a session cookie, with its data parsed */
export async function sessionRow(srv: TestServer, key: string | undefined) {
  if (!key) return undefined;
  const row = await srv.app.store.db.selectFrom('sessions').selectAll().where('session_key', '=', sessionKeyOf(key)).executeTakeFirst();
  return row && { ...row, data: JSON.parse(row.data) as { plan?: { bindings: unknown[]; context: Record<string, any> }; csrf?: string } };
}

export async function userPk(srv: TestServer, username: string): Promise<number> {
  const r = await call(srv, 'GET', `/core/users/?username=${encodeURIComponent(username)}`);
  assert.equal(r.body.results.length, 1, username);
  return r.body.results[0].pk;
}

/** the binding of `stage` in flow `slug` */
export async function bindingOf(srv: TestServer, slug: string, stage: string): Promise<string> {
  const flow = (await call(srv, 'GET', `/flows/instances/${slug}/`)).body.pk;
  const r = await call(srv, 'GET', `/flows/bindings/?target=${flow}&stage=${stage}`);
  assert.equal(r.body.results.length, 1);
  return r.body.results[0].pk;
}

/**
 * Binds authentik's default "skip when already proven" policy (default-authentication-flow-password-stage, or the
 * validate-stage one) to `stage`'s binding in flow `slug`, as an authentik admin does for a custom flow.
 */
export async function bindSkipPolicy(
  srv: TestServer,
  slug: string,
  stage: string,
  policyName = 'default-authentication-flow-password-stage',
): Promise<void> {
  const policy = (await call(srv, 'GET', `/policies/all/?search=${encodeURIComponent(policyName)}`)).body.results.find(
    (p: { name: string }) => p.name === policyName,
  );
  assert.ok(policy, policyName);
  const r = await call(srv, 'POST', '/policies/bindings/', {
    target: await bindingOf(srv, slug, stage),
    policy: policy.pk,
    order: 10,
    failure_result: true,
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
}

/**
 * An expression policy bound to `stage`'s binding in flow `slug`, evaluated when the stage comes up (not when the
 * flow is planned): what it writes into `context["flow_plan"].context` is there for the stage. The policy's pk.
 */
export async function bindExpression(srv: TestServer, slug: string, stage: string, expression: string): Promise<string> {
  const policy = await call(srv, 'POST', '/policies/expression/', { name: `bound-${randomUUID()}`, expression });
  assert.equal(policy.status, 201, JSON.stringify(policy.body));
  const fsb = await bindingOf(srv, slug, stage);
  const patched = await call(srv, 'PATCH', `/flows/bindings/${fsb}/`, { evaluate_on_plan: false, re_evaluate_policies: true });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  const bound = await call(srv, 'POST', '/policies/bindings/', { target: fsb, policy: policy.body.pk, order: 0 });
  assert.equal(bound.status, 201, JSON.stringify(bound.body));
  return policy.body.pk;
}

/** a browser logged in through the default authentication flow with a password (and no second factor) */
export async function loggedIn(srv: TestServer, username: string, password: string): Promise<Browser> {
  const b = new Browser(srv.api);
  await b.get('default-authentication-flow');
  await b.solve('default-authentication-flow', { component: 'ak-stage-identification', uidField: username });
  const done = await b.solve('default-authentication-flow', { component: 'ak-stage-password', password });
  assert.equal(done.body.component, 'xak-flow-redirect', `login of ${username}: ${JSON.stringify(done.body)}`);
  assert.equal((await b.me()).status, 200);
  return b;
}
