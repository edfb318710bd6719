/**
 * Failing closed through real bindings: an expression policy that raises yields its binding's `failure_result` —
 * on a flow (the flow applies or not) and on a flow-stage binding (the stage runs or is skipped) — records a
 * `policy_exception` event, and `negate` leaves the failure result as it is (authentik's PolicyProcess negates
 * inside its `try`, so an exception's result is not flipped). Then the sandbox's escape attempts, bound to a flow:
 * each one fails closed, and the same server still logs a person in through the default authentication flow.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { BrowserSession } from '../helpers/official-client.js';
import { bindingOf, createStage, createUser, defaultStages, flowOf } from '../helpers/flows.js';

const FLOW = 'default-authentication-flow';

/** a full login through the default authentication flow: identification, password, then the redirect */
async function login(srv: TestServer, username: string, password: string) {
  const s = new BrowserSession(srv);
  assert.equal((await s.get(FLOW)).component, 'ak-stage-identification');
  const pw = await s.solve(FLOW, { component: 'ak-stage-identification', uid_field: username });
  assert.equal(pw.component, 'ak-stage-password', JSON.stringify(pw));
  const done = await s.solve(FLOW, { component: 'ak-stage-password', password });
  assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
  return s;
}

interface EventRow {
  action: string;
  context: { policy_uuid?: string; message?: string; binding?: { pk: string; target: string } };
}

async function exceptionsOf(srv: TestServer, policy: string): Promise<EventRow[]> {
  const r = await call(srv, 'GET', '/events/events/?action=policy_exception&page_size=100');
  assert.equal(r.status, 200);
  return (r.body.results as EventRow[]).filter((e) => e.action === 'policy_exception' && e.context.policy_uuid === policy);
}

for (const dialect of dialects()) {
  describe(`failing closed through bindings (${dialect})`, () => {
    let srv: TestServer;
    let stages: Awaited<ReturnType<typeof defaultStages>>;
    let raises: string;
    const expression = async (source: string) => {
      const r = await call(srv, 'POST', '/policies/expression/', { name: `fc-${randomUUID()}`, expression: source });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.pk as string;
    };
    const flowPk = async (slug: string) => (await call(srv, 'GET', `/flows/instances/${slug}/`)).body.pk as string;
    const bind = async (target: string, body: Record<string, unknown>) => {
      const r = await call(srv, 'POST', '/policies/bindings/', { target, order: 0, ...body });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.pk as string;
    };
    const patch = async (binding: string, body: Record<string, unknown>) =>
      assert.equal((await call(srv, 'PATCH', `/policies/bindings/${binding}/`, body)).status, 200);

    before(async () => {
      srv = await startServer(dialect);
      stages = await defaultStages(srv);
      await createUser(srv, 'fay', 'fay-password-1');
      raises = await expression('return 1/0');
    });
    after(async () => srv.close());

    it('a flow binding whose policy raises: failure_result false denies, true applies; negate flips neither', async () => {
      const slug = await flowOf(srv, 'fc-flow', [stages.identification]);
      const binding = await bind(await flowPk(slug), { policy: raises, timeout: 10 });
      const before = (await exceptionsOf(srv, raises)).length;

      const denied = await new BrowserSession(srv).get(slug);
      assert.equal(denied.component, 'ak-stage-access-denied', 'failure_result false (the default): the flow does not apply');
      assert.doesNotMatch(String(denied.error_message ?? ''), /ZeroDivision|division/, 'the error stays in the event log');
      const events = await exceptionsOf(srv, raises);
      assert.equal(events.length, before + 1, 'one policy_exception event');
      assert.match(events[0].context.message ?? '', /ZeroDivisionError/);
      assert.equal(events[0].context.binding?.pk, binding);

      await patch(binding, { failure_result: true });
      assert.equal((await new BrowserSession(srv).get(slug)).component, 'ak-stage-identification', 'failure_result true: applies');

      await patch(binding, { failure_result: true, negate: true });
      assert.equal(
        (await new BrowserSession(srv).get(slug)).component,
        'ak-stage-identification',
        'negate does not flip the failure result to a denial',
      );
      await patch(binding, { failure_result: false, negate: true });
      assert.equal(
        (await new BrowserSession(srv).get(slug)).component,
        'ak-stage-access-denied',
        'negate does not flip the failure result to a pass',
      );
      assert.equal((await exceptionsOf(srv, raises)).length, before + 4, 'every failed evaluation is recorded');

      // the same binding on a policy that answers: negate does flip a real result
      const no = await expression('return False');
      await patch(binding, { policy: no, negate: true, failure_result: false });
      assert.equal((await new BrowserSession(srv).get(slug)).component, 'ak-stage-identification', 'a real False, negated, passes');
    });

    it('a flow-stage binding whose policy raises: the stage is skipped (false) or runs (true), negate or not', async () => {
      const deny = await createStage(srv, '/stages/deny/', { name: 'fc-deny', deny_message: 'stopped by the deny stage' });
      const slug = await flowOf(srv, 'fc-stage-flow', [stages.identification, deny]);
      const fsb = await bindingOf(srv, slug, deny);
      const binding = await bind(fsb, { policy: raises, timeout: 10 });
      const before = (await exceptionsOf(srv, raises)).length;
      const run = async () => {
        const s = new BrowserSession(srv);
        assert.equal((await s.get(slug)).component, 'ak-stage-identification');
        return s.solve(slug, { component: 'ak-stage-identification', uid_field: 'fay' });
      };

      // re_evaluate_policies (the default): the deny stage's policy runs when it comes up
      const skipped = await run();
      assert.equal(skipped.component, 'xak-flow-redirect', `failure_result false: the deny stage is skipped (${JSON.stringify(skipped)})`);
      const events = await exceptionsOf(srv, raises);
      assert.equal(events.length, before + 1);
      assert.equal(events[0].context.binding?.pk, binding);

      await patch(binding, { failure_result: true });
      const ran = await run();
      assert.equal(ran.component, 'ak-stage-access-denied', 'failure_result true: the stage runs');
      assert.equal(ran.error_message, 'stopped by the deny stage');

      await patch(binding, { failure_result: true, negate: true });
      assert.equal((await run()).component, 'ak-stage-access-denied', 'negated, the failure result still runs the stage');
      await patch(binding, { failure_result: false, negate: true });
      assert.equal((await run()).component, 'xak-flow-redirect', 'negated, the failure result still skips the stage');

      // evaluate_on_plan: the same rule when the flow is planned
      await call(srv, 'PATCH', `/flows/bindings/${fsb}/`, { evaluate_on_plan: true, re_evaluate_policies: false });
      await patch(binding, { failure_result: false, negate: false });
      assert.equal((await run()).component, 'xak-flow-redirect', 'left out of the plan');
      await patch(binding, { failure_result: true });
      assert.equal((await run()).component, 'ak-stage-access-denied', 'planned');
    });

    it('escape attempts bound to a flow fail closed, and the server still logs people in', async () => {
      const slug = await flowOf(srv, 'fc-escape', [stages.identification]);
      const target = await flowPk(slug);
      // each would return True if the attempt did not raise: a pass would show the identification stage
      // and the event says why: refused by the sandbox, or cut off
      const attempts: [string, string, number, RegExp][] = [
        ['import js', 'import js\nreturn True', 10, /^ImportError: import of 'js' is not allowed/],
        ['import pyodide', 'import pyodide.ffi\nreturn True', 10, /^ImportError: import of 'pyodide' is not allowed/],
        ['os.system', 'import os\nos.system("true")\nreturn True', 10, /^PermissionError: os\.system is not available/],
        ['subprocess', 'import subprocess\nsubprocess.run(["true"], check=True)\nreturn True', 10, /^ImportError: import of 'subprocess'/],
        [
          'socket',
          'import socket\nsocket.create_connection(("127.0.0.1", 5432), timeout=1)\nreturn True',
          10,
          /^ImportError: import of 'socket'/,
        ],
        ['open a file', 'data = open("/etc/passwd").read()\nreturn len(data) > 0', 10, /^FileNotFoundError: /],
        ['a string past the address space', 'x = "a" * (10**10)\nreturn True', 10, /^OverflowError: /],
        ['a string past the memory cap', 'x = "a" * (2**30)\nreturn True', 10, /^MemoryError/],
        ['a list without bound', 'x = []\nwhile True:\n    x.append("a" * 1000000)\nreturn True', 10, /^MemoryError/],
        ['spin forever', 'while True:\n    pass', 1, /timed out after 1 seconds|did not finish within 1000 ms/],
      ];
      const started = Date.now();
      for (const [label, source, timeout, why] of attempts) {
        const policy = await expression(source);
        const binding = await bind(target, { policy, timeout });
        const t = Date.now();
        const r = await new BrowserSession(srv).get(slug);
        assert.equal(r.component, 'ak-stage-access-denied', `${label}: fails closed (${JSON.stringify(r)})`);
        assert.ok(Date.now() - t < 20_000, `${label}: answered within the binding's timeout and a restart`);
        const events = await exceptionsOf(srv, policy);
        assert.equal(events.length, 1, `${label}: a policy_exception event`);
        assert.match(events[0]!.context.message ?? '', why, label);
        assert.equal((await call(srv, 'DELETE', `/policies/bindings/${binding}/`)).status, 204);
        // the same server still answers: another flow, the whole default login
        await login(srv, 'fay', 'fay-password-1');
      }
      assert.ok(Date.now() - started < 120_000);
      // and the runtime still evaluates: the flow with a passing expression applies
      const binding = await bind(target, { policy: await expression('return 6 * 7 == 42') });
      assert.equal((await new BrowserSession(srv).get(slug)).component, 'ak-stage-identification');
      await call(srv, 'DELETE', `/policies/bindings/${binding}/`);
    });
  });
}
