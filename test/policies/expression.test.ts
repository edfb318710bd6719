/**
 * Expression policies in authentik's Python (the sandboxed runtime): saving checks the syntax (400 with the line),
 * evaluation sees authentik's request and functions, messages reach the person, and a runaway expression fails closed
 * while the flow keeps answering. authentik's default-flow expressions give the same results natively and in Python.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { call, startServer, type TestServer } from '../helpers/server.js';
import { BrowserSession } from '../helpers/official-client.js';
import { createUser, defaultStages, flowOf } from '../helpers/flows.js';
import { evaluate } from '../../src/expressions/index.js';
import { IF_NO_USERNAME, IF_SSO, PASSWORD_STAGE, VALIDATE_STAGE, nativeOf } from '../../src/policies/expression/native.js';
import { pyRequest } from '../../src/policies/expression/host.js';
import { policyContext } from '../../src/flows/engine/policy-request.js';
import type { UsersTable } from '../../src/db/types.js';
import type { FlowContext } from '../../src/flows/engine/context.js';

describe('expression policies (Python)', () => {
  let srv: TestServer;
  let ivy: number;
  const expression = async (source: string, name = `expr-${randomUUID()}`) => {
    const r = await call(srv, 'POST', '/policies/expression/', { name, expression: source });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.pk as string;
  };
  const test = async (pk: string, context: Record<string, unknown> = {}, user = ivy) =>
    (await call(srv, 'POST', `/policies/all/${pk}/test/`, { user, context })).body;

  before(async () => {
    srv = await startServer('sqlite');
    ivy = await createUser(srv, 'ivy', 'ivy-password-1');
  });
  after(async () => srv.close());

  it('saving checks the syntax: a 400 on expression with the line, nothing stored', async () => {
    const r = await call(srv, 'POST', '/policies/expression/', { name: 'broken', expression: 'x = 1\nreturn (\n' });
    assert.equal(r.status, 400);
    assert.match(r.body.expression[0], /^Expression Syntax Error: .*\(line \d+\)$/);
    assert.equal((await call(srv, 'GET', '/policies/expression/?name=broken')).body.pagination.count, 0);
    const ok = await expression('return True');
    const patch = await call(srv, 'PATCH', `/policies/expression/${ok}/`, { expression: 'return )' });
    assert.equal(patch.status, 400);
    assert.match(patch.body.expression[0], /line 1/);
  });

  it('authentik’s request, ak_message and ak_logger; the test endpoint shows messages and log lines', async () => {
    const pk = await expression(
      'ak_message("hello " + request.user.username)\nak_logger.info("checked", extra=1)\nreturn request.user.username == "ivy"',
    );
    const r = await test(pk);
    assert.equal(r.passing, true);
    assert.deepEqual(r.messages, ['hello ivy']);
    assert.equal(r.log_messages.length, 1);
    assert.equal(r.log_messages[0].event, 'checked');
    assert.equal(r.log_messages[0].log_level, 'info');
    const context = await expression('return request.context.get("color") == "blue"');
    assert.equal((await test(context, { color: 'blue' })).passing, true);
    assert.equal((await test(context, { color: 'red' })).passing, false);
  });

  it('authentik’s documented functions: ak_user_by, ak_is_group_member, ak_user_has_authenticator, ip_network, ak_call_policy', async () => {
    const group = (await call(srv, 'POST', '/core/groups/', { name: 'expr-staff' })).body.pk;
    assert.equal((await call(srv, 'POST', `/core/groups/${group}/add_user/`, { pk: ivy })).status, 204);
    const child = (await call(srv, 'POST', '/core/groups/', { name: 'expr-child', parents: [group] })).body.pk;
    const bob = await createUser(srv, 'bob', 'bob-password-1');
    assert.equal((await call(srv, 'POST', `/core/groups/${child}/add_user/`, { pk: bob })).status, 204);
    const member = await expression('return ak_is_group_member(request.user, name="expr-staff")');
    assert.equal((await test(member)).passing, true);
    assert.equal((await test(member, {}, bob)).passing, true, 'a member of a child group is a member (inherited)');
    const other = await createUser(srv, 'other', 'other-password-1');
    assert.equal((await test(member, {}, other)).passing, false);
    const by = await expression('u = ak_user_by(username="bob")\nreturn u is not None and u.email == "bob@example.com"');
    assert.equal((await test(by)).passing, true);
    const none = await expression('return ak_user_by(username="nobody-at-all") is None');
    assert.equal((await test(none)).passing, true);
    const mfa = await expression('return ak_user_has_authenticator(request.user)');
    assert.equal((await test(mfa)).passing, false, 'ivy has no device');
    const ip = await expression('return ak_client_ip in ip_network("127.0.0.0/8")');
    assert.equal((await test(ip)).passing, true);
    await call(srv, 'POST', '/policies/dummy/', { name: 'expr-called', result: true, wait_min: 0, wait_max: 0 });
    const caller = await expression('r = ak_call_policy("expr-called")\nak_message("called: %s" % r.passing)\nreturn r.passing');
    assert.deepEqual(await test(caller), { passing: true, messages: ['called: True'], log_messages: [] });
  });

  it('a flow policy’s message reaches the person; a runaway expression fails closed and the server keeps answering', async () => {
    const stages = await defaultStages(srv);
    const slug = await flowOf(srv, 'expr-flow', [stages.identification]);
    const flow = (await call(srv, 'GET', `/flows/instances/${slug}/`)).body.pk;
    const says = await expression('ak_message("Only on Tuesdays.")\nreturn False');
    const b = await call(srv, 'POST', '/policies/bindings/', { target: flow, policy: says, order: 0 });
    const denied = await new BrowserSession(srv).get(slug);
    assert.equal(denied.component, 'ak-stage-access-denied');
    assert.equal(denied.error_message, 'Only on Tuesdays.');
    await call(srv, 'DELETE', `/policies/bindings/${b.body.pk}/`);

    // several failing bindings: their messages in binding order (not creation order)
    const second = await expression('ak_message("second")\nreturn False');
    const first = await expression('ak_message("first")\nreturn False');
    const b2 = await call(srv, 'POST', '/policies/bindings/', { target: flow, policy: second, order: 20 });
    const b1 = await call(srv, 'POST', '/policies/bindings/', { target: flow, policy: first, order: 10 });
    assert.equal((await new BrowserSession(srv).get(slug)).error_message, 'first\nsecond');
    for (const x of [b1, b2]) await call(srv, 'DELETE', `/policies/bindings/${x.body.pk}/`);

    const spin = await expression('while True:\n    pass');
    await call(srv, 'POST', '/policies/bindings/', { target: flow, policy: spin, order: 0, timeout: 1 });
    const started = Date.now();
    const r = await new BrowserSession(srv).get(slug);
    assert.equal(r.component, 'ak-stage-access-denied', 'failure_result false: not a pass');
    assert.ok(Date.now() - started < 10_000);
    const events = (await call(srv, 'GET', '/events/events/?action=policy_exception')).body.results;
    assert.ok(events.some((e: { context: { policy_uuid?: string } }) => e.context.policy_uuid === spin));
    // the next evaluation and the default flow still work
    assert.equal((await new BrowserSession(srv).get('default-authentication-flow')).component, 'ak-stage-identification');
    assert.equal((await test(await expression('return 1 + 1 == 2'))).passing, true);
  });

  it('authentik’s default-flow expressions: the native version gives the Python runtime’s result on the same inputs', async () => {
    const user = (await srv.app.store.db.selectFrom('users').selectAll().where('id', '=', ivy).executeTakeFirstOrThrow()) as UsersTable;
    const flow = (await srv.app.store.db
      .selectFrom('flows')
      .selectAll()
      .where('slug', '=', 'default-authentication-flow')
      .executeTakeFirstOrThrow()) as never;
    const pending = { id: user.id, username: user.username, email: user.email, name: user.name };
    const contexts: [string, FlowContext, boolean][] = [
      ['nobody identified', {}, true],
      ['identified', { pendingUser: pending }, true],
      ['identified by an unknown identifier', { pendingUser: { ...pending, id: null } }, true],
      ['password proven', { pendingUser: pending, userBackend: 'authentik.core.auth.InbuiltBackend', authMethod: 'password' }, true],
      ['passkey', { pendingUser: pending, userBackend: 'authentik.core.auth.InbuiltBackend', authMethod: 'auth_webauthn_pwl' }, true],
      ['token', { pendingUser: pending, userBackend: 'authentik.core.auth.TokenBackend', authMethod: 'token' }, true],
      ['a placeholder with a backend', { pendingUser: { ...pending, id: null }, userBackend: 'x' }, true],
      ['no flow plan (the flow itself)', { pendingUser: pending, authMethod: 'auth_webauthn_pwl', userBackend: 'x' }, false],
    ];
    for (const source of [PASSWORD_STAGE, VALIDATE_STAGE]) {
      const native = nativeOf(source)!;
      assert.ok(native);
      for (const [label, ctx, withPlan] of contexts) {
        const u = ctx.pendingUser?.id ? user : undefined;
        const request = { user: u, context: policyContext(ctx, u, withPlan ? { flow, bindings: [] } : undefined), debug: true };
        const py = await evaluate({ source, globals: { request: pyRequest(request) } });
        assert.ok(py.ok, JSON.stringify(py));
        assert.equal(native(request).passing, py.ok && py.truthy, `${label}: ${source.split('\n')[4]}`);
      }
    }
  });

  it('authentik’s default source-flow expressions: the native version gives the Python runtime’s result on the same inputs', async () => {
    const flow = (await srv.app.store.db
      .selectFrom('flows')
      .selectAll()
      .where('slug', '=', 'default-source-enrollment')
      .executeTakeFirstOrThrow()) as never;
    const source = { pk: '5eed0000-0000-4000-8000-0000000005c0', slug: 'company', name: 'Company' };
    const contexts: [string, FlowContext][] = [
      ['no source', {}],
      ['no source, a username typed', { promptData: { username: 'typed' } }],
      ['a source, no prompt data', { source }],
      ['a source, an e-mail only', { source, promptData: { email: 'x@example.com' } }],
      ['a source, a username', { source, promptData: { username: 'given', email: 'x@example.com' } }],
    ];
    for (const text of [IF_SSO, IF_NO_USERNAME]) {
      const native = nativeOf(text)!;
      assert.ok(native);
      for (const [label, ctx] of contexts)
        for (const withPlan of [true, false]) {
          const request = {
            user: undefined,
            context: policyContext(ctx, undefined, withPlan ? { flow, bindings: [] } : undefined),
            debug: true,
          };
          const py = await evaluate({ source: text, globals: { request: pyRequest(request) } });
          assert.ok(py.ok, JSON.stringify(py));
          assert.equal(native(request).passing, py.truthy, `${label} (plan: ${withPlan}): ${text.split('\n').at(-2)}`);
        }
    }
  });
});
