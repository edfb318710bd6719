/**
 * The consent stage (`ak-stage-consent`) in `default-provider-authorization-explicit-consent` and in flows of its
 * own: authentik's ConsentChallenge, the token check, and the three modes with the application and permissions a
 * provider puts into the plan (`application`, `consent_header`, `consent_permissions`): what is written to
 * user_consents and when the stage passes silently. Also /stages/consent/ and /core/user_consent/.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { CoreApi } from '@goauthentik/api/dist/apis/CoreApi.js';
import { StagesApi } from '@goauthentik/api/dist/apis/StagesApi.js';
import { ConsentModeEnum } from '@goauthentik/api/dist/models/ConsentModeEnum.js';
import { ADMIN_PASSWORD, call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { Browser } from '../../helpers/browser.js';
import { createStage, flowOf, sessionRow } from '../../helpers/flows.js';
import { assertMatches } from '../../helpers/openapi-schema.js';
import { body } from '../../rest/contract/client.js';
import { sessionKeyOf } from '../../../src/sessions/session-hash.js';

const LOGIN = 'default-authentication-flow';
const EXPLICIT = 'default-provider-authorization-explicit-consent';

const PERMS = [
  { id: 'email', name: 'Email address' },
  { id: 'profile', name: 'General Profile Information' },
];

for (const dialect of dialects()) {
  describe(`consent stage (${dialect})`, () => {
    let srv: TestServer;
    let app: { pk: string; slug: string; name: string };
    before(async () => {
      srv = await startServer(dialect);
      const a = await call(srv, 'POST', '/core/applications/', { name: 'Grafana', slug: 'grafana' });
      app = { pk: a.body.pk, slug: a.body.slug, name: a.body.name };
    });
    after(async () => srv.close());

    async function loggedIn(): Promise<Browser> {
      const b = new Browser(srv.api);
      await b.get(LOGIN);
      await b.solve(LOGIN, { component: 'ak-stage-identification', uidField: 'akadmin' });
      assert.equal(
        (await b.solve(LOGIN, { component: 'ak-stage-password', password: ADMIN_PASSWORD })).body.component,
        'xak-flow-redirect',
      );
      return b;
    }

    /** what a provider puts into the plan when it starts the flow (here written into the stored plan) */
    async function provide(b: Browser, context: Record<string, unknown>) {
      const row = await sessionRow(srv, b.session);
      assert.ok(row?.data.plan, 'the plan is stored');
      row.data.plan.context = { ...row.data.plan.context, ...context };
      await srv.app.store.db
        .updateTable('sessions')
        .set({ data: JSON.stringify(row.data) })
        .where('session_key', '=', sessionKeyOf(b.session!))
        .execute();
    }

    const consents = () => srv.app.store.db.selectFrom('user_consents').selectAll().where('application', '=', app.pk).execute();

    it('explicit-consent default flow: authentik’s challenge; a wrong token shows it again; the right one passes', async () => {
      const b = await loggedIn();
      const first = await b.get(EXPLICIT);
      assert.equal(first.status, 200);
      assertMatches('ConsentChallenge', first.body);
      assert.equal(first.body.component, 'ak-stage-consent');
      assert.equal(first.body.flow_info.title, 'Redirecting to ', 'no application in the plan: %(app)s is empty');
      assert.deepEqual(first.body.permissions, []);
      assert.deepEqual(first.body.additional_permissions, []);
      assert.equal(first.body.pending_user, 'akadmin');
      assert.equal(typeof first.body.token, 'string');
      const wrong = await b.solve(EXPLICIT, { component: 'ak-stage-consent', token: 'forged' });
      assert.equal(wrong.body.component, 'ak-stage-consent');
      assert.notEqual(wrong.body.token, first.body.token);
      assert.deepEqual(wrong.body.response_errors, { token: [{ string: 'Invalid consent token, re-showing prompt', code: 'invalid' }] });
      const missing = await b.fetch(`/flows/executor/${EXPLICIT}/?query=`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ component: 'ak-stage-consent' }),
      });
      assert.deepEqual(missing.body.response_errors, { token: [{ string: 'This field is required.', code: 'required' }] });
      const done = await b.solve(EXPLICIT, { component: 'ak-stage-consent', token: missing.body.token });
      assert.equal(done.body.component, 'xak-flow-redirect');
      assert.equal((await consents()).length, 0, 'no application in the plan: nothing to remember');
    });

    it('expiring (the default flow’s mode): consent is remembered until it expires; new permissions are asked for', async () => {
      const b = await loggedIn();
      await b.get(EXPLICIT);
      await provide(b, { application: app, consent_header: 'Grafana wants to know who you are', consent_permissions: PERMS });
      const c = await b.get(EXPLICIT);
      assertMatches('ConsentChallenge', c.body);
      assert.equal(c.body.header_text, 'Grafana wants to know who you are');
      assert.deepEqual(c.body.permissions, PERMS);
      const before = Date.now();
      assert.equal((await b.solve(EXPLICIT, { component: 'ak-stage-consent', token: c.body.token })).body.component, 'xak-flow-redirect');
      const rows = await consents();
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.permissions, 'email profile');
      assert.equal(Number(rows[0]!.expiring), 1);
      const expires = new Date(rows[0]!.expires!).getTime();
      assert.ok(Math.abs(expires - before - 28 * 86_400_000) < 60_000, 'weeks=4 from now');

      // the same permissions again: the stage passes without asking
      await b.get(EXPLICIT);
      const again = await b.get(EXPLICIT);
      assert.equal(again.body.component, 'ak-stage-consent', 'no application yet in this new plan');
      await provide(b, { application: app, consent_permissions: PERMS });
      assert.equal((await b.get(EXPLICIT)).body.component, 'xak-flow-redirect');

      // one more permission: asked for as additional, the others shown as given
      await b.get(EXPLICIT);
      await provide(b, {
        application: app,
        consent_permissions: [...PERMS, { id: 'offline_access', name: 'Access to request new tokens without interaction' }],
      });
      const more = await b.get(EXPLICIT);
      assert.deepEqual(more.body.permissions, PERMS);
      assert.deepEqual(more.body.additional_permissions, [
        { id: 'offline_access', name: 'Access to request new tokens without interaction' },
      ]);
      await b.solve(EXPLICIT, { component: 'ak-stage-consent', token: more.body.token });
      const after = await consents();
      assert.equal(after.length, 1, 'replaced, not added');
      assert.equal(after[0]!.permissions, 'email profile offline_access');

      // expired: asked again
      await srv.app.store.db
        .updateTable('user_consents')
        .set({ expires: new Date(Date.now() - 1000).toISOString() })
        .execute();
      await b.get(EXPLICIT);
      await provide(b, { application: app, consent_permissions: PERMS });
      assert.equal((await b.get(EXPLICIT)).body.component, 'ak-stage-consent');

      // /core/user_consent/: listed with user and application, deletable by its owner
      const list = await call(srv, 'GET', `/core/user_consent/?application=${app.pk}`);
      assert.equal(list.status, 200);
      assertMatches('PaginatedUserConsentList', list.body);
      assert.equal(list.body.results[0].application.slug, 'grafana');
      assert.equal(list.body.results[0].user.username, 'akadmin');
      assert.equal(list.body.results[0].permissions, 'email profile offline_access');
      const core = new CoreApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      const one = await body(core.coreUserConsentRetrieveRaw({ id: list.body.results[0].pk }));
      assertMatches('UserConsent', one);
      await core.coreUserConsentDestroy({ id: list.body.results[0].pk });
      assert.equal((await consents()).length, 0);
    });

    it('two consents given at the same time (real parallel requests) are one remembered consent, never a 500', async () => {
      await srv.app.store.db.deleteFrom('user_consents').execute();
      for (let round = 0; round < 4; round++) {
        const browsers = await Promise.all([loggedIn(), loggedIn(), loggedIn()]);
        const tokens: string[] = [];
        for (const b of browsers) {
          await b.get(EXPLICIT);
          await provide(b, { application: app, consent_permissions: PERMS });
          tokens.push((await b.get(EXPLICIT)).body.token);
        }
        const answers = await Promise.all(browsers.map((b, i) => b.solve(EXPLICIT, { component: 'ak-stage-consent', token: tokens[i] })));
        assert.deepEqual(
          answers.map((a) => [a.status, a.body.component]),
          browsers.map(() => [200, 'xak-flow-redirect']),
        );
        const rows = await consents();
        assert.equal(rows.length, 1, JSON.stringify(rows));
        assert.equal(rows[0]!.permissions, 'email profile');
        await srv.app.store.db.deleteFrom('user_consents').execute();
      }
    });

    it('permanent and always_require modes (stages made through the official client)', async () => {
      const stages = new StagesApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      const permanent = await body(
        stages.stagesConsentCreateRaw({ consentStageRequest: { name: 'perm', mode: ConsentModeEnum.Permanent } }),
      );
      assertMatches('ConsentStage', permanent);
      assert.equal(permanent.consent_expire_in, 'weeks=4');
      assert.equal(permanent.component, 'ak-stage-consent-form');
      const always = await createStage(srv, '/stages/consent/', { name: 'always', mode: 'always_require' });
      await flowOf(srv, 'perm-flow', [permanent.pk], { designation: 'authorization' });
      await flowOf(srv, 'always-flow', [always], { designation: 'authorization' });

      const b = await loggedIn();
      await b.get('perm-flow');
      await provide(b, { application: app, consent_permissions: PERMS });
      const c = await b.get('perm-flow');
      await b.solve('perm-flow', { component: 'ak-stage-consent', token: c.body.token });
      const rows = await consents();
      assert.equal(rows.length, 1);
      assert.equal(Number(rows[0]!.expiring), 0);
      assert.equal(rows[0]!.expires, null);
      const listed = await call(srv, 'GET', '/core/user_consent/');
      assert.equal(listed.body.results[0].expiring, false);
      assert.equal(listed.body.results[0].expires, null);
      await b.get('perm-flow');
      await provide(b, { application: app, consent_permissions: PERMS });
      assert.equal((await b.get('perm-flow')).body.component, 'xak-flow-redirect', 'remembered');

      // always_require asks every time and writes nothing
      await b.get('always-flow');
      await provide(b, { application: app, consent_permissions: PERMS });
      const a = await b.get('always-flow');
      assert.equal(a.body.component, 'ak-stage-consent');
      await b.solve('always-flow', { component: 'ak-stage-consent', token: a.body.token });
      assert.equal((await consents()).length, 1);

      // deleting the application deletes its consents (used_by says so)
      const used = await call(srv, 'GET', `/core/applications/${app.slug}/used_by/`);
      assert.ok(used.body.some((u: { model_name: string }) => u.model_name === 'userconsent'));

      // the stage's REST: filters and validation
      assert.deepEqual(
        (await call(srv, 'GET', '/stages/consent/?mode=permanent')).body.results.map((s: { name: string }) => s.name),
        ['perm'],
      );
      const bad = await call(srv, 'POST', '/stages/consent/', { name: 'x', mode: 'sometimes', consent_expire_in: 'soon' });
      assert.deepEqual(
        [bad.status, bad.body],
        [
          400,
          {
            mode: ['"sometimes" is not a valid choice.'],
            consent_expire_in: ["soon is not in the correct format of 'hours=3;minutes=1'."],
          },
        ],
      );
      const defaults = await call(srv, 'GET', '/stages/consent/?name=default-provider-authorization-consent');
      assert.equal(defaults.body.results[0].mode, 'expiring');
    });
  });
}
