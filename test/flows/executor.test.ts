/**
 * The flow executor through the official client (FlowsApi.flowsExecutorGet / flowsExecutorSolve) with a
 * browser-like cookie jar: the default authentication flow end to end, and the executor's rules around it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { BrowserSession } from '../helpers/official-client.js';
import { bindSkipPolicy, createStage, createUser, defaultStages, flowOf, withoutUser } from '../helpers/flows.js';
import { sessionKeyOf } from '../../src/sessions/session-hash.js';

const FLOW = 'default-authentication-flow';

for (const dialect of dialects()) {
  describe(`executor: default authentication flow (${dialect})`, () => {
    let srv: TestServer;
    let stages: Awaited<ReturnType<typeof defaultStages>>;
    before(async () => {
      srv = await startServer(dialect);
      stages = await defaultStages(srv);
      await createUser(srv, 'ivy', 'ivy-password-1', { email: 'Ivy@Example.org' });
    });
    after(async () => srv.close());

    it('logs in by username; the challenges are authentik’s; the session then authenticates the API', async () => {
      const b = new BrowserSession(srv);
      const ident = await b.get(FLOW);
      assert.equal(ident.component, 'ak-stage-identification');
      assert.deepEqual(ident.user_fields, ['username', 'email']);
      assert.equal(ident.primary_action, 'Log in');
      assert.equal(ident.flow_info.title, 'Welcome to Keystage!');
      assert.equal(ident.flow_info.cancel_url, '/flows/-/cancel/');
      const anonymous = b.cookies.get('authentik_session');
      const pw = await b.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'ivy' });
      assert.equal(pw.component, 'ak-stage-password');
      assert.equal(pw.pending_user, 'ivy');
      const done = await b.solve(FLOW, { component: 'ak-stage-password', password: 'ivy-password-1' });
      assert.deepEqual(done, { component: 'xak-flow-redirect', to: '/', final_redirect: true });
      assert.notEqual(b.cookies.get('authentik_session'), anonymous, 'a new session id at login');
      const me = await b.core.coreUsersMeRetrieveRaw();
      assert.equal((await me.raw.json()).user.username, 'ivy');
    });

    it('logs in by e-mail, matched case-insensitively', async () => {
      const b = new BrowserSession(srv);
      await b.get(FLOW);
      const pw = await b.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'IVY@example.ORG' });
      assert.equal(pw.pending_user, 'IVY@example.ORG', 'the typed text: the default flow ships show_matched_user off');
      assert.equal((await b.solve(FLOW, { component: 'ak-stage-password', password: 'ivy-password-1' })).component, 'xak-flow-redirect');
      const me = await b.core.coreUsersMeRetrieveRaw();
      assert.equal((await me.raw.json()).user.username, 'ivy', 'the e-mail matched ivy');
    });

    it('case-sensitive matching when case_insensitive_matching is off', async () => {
      await call(srv, 'PATCH', `/stages/identification/${stages.identification}/`, {
        case_insensitive_matching: false,
        pretend_user_exists: false,
        user_fields: ['username', 'email'],
      });
      try {
        const b = new BrowserSession(srv);
        await b.get(FLOW);
        const r = await b.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'IVY' });
        assert.deepEqual(r.response_errors, { non_field_errors: [{ string: 'Failed to authenticate.', code: 'invalid' }] });
      } finally {
        await call(srv, 'PATCH', `/stages/identification/${stages.identification}/`, {
          case_insensitive_matching: true,
          pretend_user_exists: true,
          user_fields: ['username', 'email'],
        });
      }
    });

    it('wrong password: an error on the field, then the right one works', async () => {
      const b = new BrowserSession(srv);
      await b.get(FLOW);
      await b.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'ivy' });
      const wrong = await b.solve(FLOW, { component: 'ak-stage-password', password: 'nope' });
      assert.equal(wrong.component, 'ak-stage-password');
      assert.deepEqual(wrong.response_errors, { password: [{ string: 'Invalid password', code: 'invalid' }] });
      assert.equal((await b.solve(FLOW, { component: 'ak-stage-password', password: 'ivy-password-1' })).component, 'xak-flow-redirect');
    });

    it('unknown user with pretend_user_exists: the password stage answers exactly as for a wrong password', async () => {
      const known = new BrowserSession(srv);
      await known.get(FLOW);
      await known.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'ivy' });
      const k = await known.solve(FLOW, { component: 'ak-stage-password', password: 'nope' });
      const unknown = new BrowserSession(srv);
      await unknown.get(FLOW);
      const pw = await unknown.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'nobody-at-all' });
      assert.equal(pw.component, 'ak-stage-password');
      const u = await unknown.solve(FLOW, { component: 'ak-stage-password', password: 'nope' });
      assert.deepEqual(withoutUser(u), withoutUser(k));
    });

    it('unknown user without pretend: "Failed to authenticate." on the identification stage', async () => {
      await call(srv, 'PATCH', `/stages/identification/${stages.identification}/`, { pretend_user_exists: false });
      try {
        const b = new BrowserSession(srv);
        await b.get(FLOW);
        const r = await b.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'nobody-at-all' });
        assert.equal(r.component, 'ak-stage-identification');
        assert.deepEqual(r.response_errors, { non_field_errors: [{ string: 'Failed to authenticate.', code: 'invalid' }] });
        const empty = await b.solve(FLOW, { component: 'ak-stage-identification', uid_field: '' });
        assert.deepEqual(empty.response_errors, { non_field_errors: [{ string: 'No identification data provided.', code: 'invalid' }] });
      } finally {
        await call(srv, 'PATCH', `/stages/identification/${stages.identification}/`, { pretend_user_exists: true });
      }
    });

    it('embedded password: one step; unknown user and wrong password give identical answers', async () => {
      const ident = await createStage(srv, '/stages/identification/', {
        name: 'exec-embedded',
        user_fields: ['username'],
        password_stage: stages.password,
      });
      const slug = await flowOf(srv, 'exec-embedded', [ident, stages.password, stages.login]);
      const ch = await new BrowserSession(srv).get(slug);
      assert.equal(ch.password_fields, true);
      const wrong = new BrowserSession(srv);
      await wrong.get(slug);
      const w = await wrong.solve(slug, { component: 'ak-stage-identification', uid_field: 'ivy', password: 'nope' });
      const unknown = new BrowserSession(srv);
      await unknown.get(slug);
      const u = await unknown.solve(slug, { component: 'ak-stage-identification', uid_field: 'nobody', password: 'nope' });
      assert.deepEqual(w, u);
      assert.deepEqual(w.response_errors, { non_field_errors: [{ string: 'Failed to authenticate.', code: 'invalid' }] });
      // without authentik's policy on the password binding, the password stage asks again (as in authentik)
      const again = new BrowserSession(srv);
      await again.get(slug);
      assert.equal(
        (await again.solve(slug, { component: 'ak-stage-identification', uid_field: 'ivy', password: 'ivy-password-1' })).component,
        'ak-stage-password',
      );
      await bindSkipPolicy(srv, slug, stages.password);
      const ok = new BrowserSession(srv);
      await ok.get(slug);
      assert.equal(
        (await ok.solve(slug, { component: 'ak-stage-identification', uid_field: 'ivy', password: 'ivy-password-1' })).component,
        'xak-flow-redirect',
      );
    });

    it('failed_attempts_before_cancel counts embedded and standalone failures together', async () => {
      const pw = await createStage(srv, '/stages/password/', {
        name: 'exec-limit-pw',
        backends: ['authentik.core.auth.InbuiltBackend'],
        failed_attempts_before_cancel: 3,
      });
      const ident = await createStage(srv, '/stages/identification/', {
        name: 'exec-limit-id',
        user_fields: ['username'],
        password_stage: pw,
      });
      const slug = await flowOf(srv, 'exec-limit', [ident, stages.login]);
      const b = new BrowserSession(srv);
      await b.get(slug);
      for (let i = 0; i < 2; i++)
        assert.equal(
          (await b.solve(slug, { component: 'ak-stage-identification', uid_field: 'ivy', password: 'x' })).component,
          'ak-stage-identification',
        );
      const denied = await b.solve(slug, { component: 'ak-stage-identification', uid_field: 'ivy', password: 'x' });
      assert.equal(denied.component, 'ak-stage-access-denied');
      // the plan is gone: the next request starts over
      assert.equal((await b.get(slug)).response_errors, undefined);
    });

    it('`next`: a relative next is the final redirect; an absolute one is refused', async () => {
      const b = new BrowserSession(srv);
      await b.get(FLOW, 'next=%2Fapp%3Fx%3D1');
      await b.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'ivy' }, 'next=%2Fapp%3Fx%3D1');
      const done = await b.solve(FLOW, { component: 'ak-stage-password', password: 'ivy-password-1' }, 'next=%2Fapp%3Fx%3D1');
      assert.deepEqual(done, { component: 'xak-flow-redirect', to: '/app?x=1', final_redirect: true });
      const evil = new BrowserSession(srv);
      await evil.get(FLOW, 'next=https%3A%2F%2Fevil.example%2F');
      await evil.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'ivy' }, 'next=https%3A%2F%2Fevil.example%2F');
      const r = await evil.solve(
        FLOW,
        { component: 'ak-stage-password', password: 'ivy-password-1' },
        'next=https%3A%2F%2Fevil.example%2F',
      );
      assert.equal(r.component, 'ak-stage-access-denied');
      assert.equal(r.error_message, 'Invalid next URL');
    });

    it('invalid_response_action restart and restart_with_context', async () => {
      const target = (await call(srv, 'GET', `/flows/instances/${FLOW}/`)).body.pk;
      const binding = (await call(srv, 'GET', `/flows/bindings/?stage=${stages.password}&target=${target}`)).body.results[0];
      // show_matched_user on, so restart_with_context shows the form again (off, the kept identifier is submitted:
      // test/flows/invalid-response.test.ts)
      await call(srv, 'PATCH', `/stages/identification/${stages.identification}/`, { show_matched_user: true });
      try {
        await call(srv, 'PATCH', `/flows/bindings/${binding.pk}/`, { invalid_response_action: 'restart' });
        const b = new BrowserSession(srv);
        await b.get(FLOW);
        await b.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'ivy' });
        const r = await b.solve(FLOW, { component: 'ak-stage-password', password: 'nope' });
        assert.equal(r.component, 'ak-stage-identification');
        assert.equal(r.response_errors, undefined);

        await call(srv, 'PATCH', `/flows/bindings/${binding.pk}/`, { invalid_response_action: 'restart_with_context' });
        const c = new BrowserSession(srv);
        await c.get(FLOW);
        await c.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'ivy' });
        const r2 = await c.solve(FLOW, { component: 'ak-stage-password', password: 'nope' });
        assert.equal(r2.component, 'ak-stage-identification');
        const plan = JSON.parse(
          (
            await srv.app.store.db
              .selectFrom('sessions')
              .select('data')
              .where('session_key', '=', sessionKeyOf(c.cookies.get('authentik_session')!))
              .executeTakeFirstOrThrow()
          ).data,
        ).plan;
        assert.equal(plan.context.pendingUser.username, 'ivy', 'the context survived the restart');
      } finally {
        await call(srv, 'PATCH', `/flows/bindings/${binding.pk}/`, { invalid_response_action: 'retry' });
        await call(srv, 'PATCH', `/stages/identification/${stages.identification}/`, { show_matched_user: false });
      }
    });

    it('deny and dummy stages; malformed bodies are flow errors with HTTP 200', async () => {
      const deny = await createStage(srv, '/stages/deny/', { name: 'exec-deny', deny_message: 'Nope.' });
      const dummy = await createStage(srv, '/stages/dummy/', { name: 'exec-dummy' });
      const slug = await flowOf(srv, 'exec-dummy-deny', [dummy, deny]);
      const b = new BrowserSession(srv);
      const d = await b.get(slug);
      assert.equal(d.component, 'ak-stage-dummy');
      assert.equal(d.name, 'exec-dummy');
      const denied = await b.solve(slug, { component: 'ak-stage-dummy' });
      assert.equal(denied.component, 'ak-stage-access-denied');
      assert.equal(denied.error_message, 'Nope.');
      const url = `${srv.api}/flows/executor/${slug}/?query=`;
      for (const [ct, payload] of [
        ['application/json', '{oops'],
        ['text/plain', 'hello'],
        ['application/json', '[1,2]'],
        ['application/x-www-form-urlencoded', 'a=b'],
      ]) {
        const r = await fetch(url, { method: 'POST', headers: { 'content-type': ct! }, body: payload });
        assert.equal(r.status, 200, `${ct} ${payload}`);
        const j = (await r.json()) as { component: string };
        assert.ok(['ak-stage-flow-error', 'ak-stage-dummy'].includes(j.component), j.component);
      }
      assert.equal((await fetch(`${srv.api}/flows/executor/no-such-flow/?query=`)).status, 404);
      const broken = await createStage(srv, '/stages/dummy/', { name: 'exec-throw', throw_error: true });
      const bslug = await flowOf(srv, 'exec-throw', [broken]);
      const fe = await fetch(`${srv.api}/flows/executor/${bslug}/?query=`);
      assert.equal(fe.status, 200);
      assert.equal(((await fe.json()) as { component: string }).component, 'ak-stage-flow-error');
    });

    it('a flow that does not apply: denied_action message and continue', async () => {
      const dummy = await createStage(srv, '/stages/dummy/', { name: 'exec-authed-dummy' });
      const slug = await flowOf(srv, 'exec-authed', [dummy], { authentication: 'require_authenticated' });
      const r = await new BrowserSession(srv).get(slug);
      assert.equal(r.component, 'ak-stage-access-denied');
      assert.equal(r.error_message, 'Flow does not apply to current user.');
      await call(srv, 'PATCH', `/flows/instances/${slug}/`, { denied_action: 'continue' });
      assert.deepEqual(await new BrowserSession(srv).get(slug), { component: 'xak-flow-redirect', to: '/' });
    });

    it('a POST without a plan plans first; a plan of another flow is replaced', async () => {
      const b = new BrowserSession(srv);
      const pw = await b.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'ivy' });
      assert.equal(pw.component, 'ak-stage-password');
      const dummy = await createStage(srv, '/stages/dummy/', { name: 'exec-other' });
      const other = await flowOf(srv, 'exec-other', [dummy]);
      assert.equal((await b.get(other)).component, 'ak-stage-dummy');
      assert.equal((await b.get(FLOW)).component, 'ak-stage-identification', 'back to the start of the other flow');
    });

    it('the default flows and their entry points exist', async () => {
      const r = await fetch(`${srv.url}/flows/-/default/authentication/?next=/x`, { redirect: 'manual' });
      assert.equal(r.status, 302);
      assert.equal(r.headers.get('location'), '/if/flow/default-authentication-flow/?next=/x');
      const cancel = await fetch(`${srv.url}/flows/-/cancel/?next=/somewhere`, { redirect: 'manual' });
      assert.equal(cancel.headers.get('location'), '/somewhere');
      assert.equal((await call(srv, 'GET', '/flows/instances/default-invalidation-flow/')).body.designation, 'invalidation');
      assert.equal((await call(srv, 'GET', `/stages/authenticator/validate/${stages.mfa}/`)).body.not_configured_action, 'skip');
    });
  });
}
