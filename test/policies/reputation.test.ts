/**
 * The reputation policy (/policies/reputation/) and its scores (/policies/reputation/scores/): authentik's fields,
 * validation and filters; scores changed by logins exactly as authentik's signals change them (atomically, within the
 * limits); evaluation through /policies/all/{uuid}/test/ and in the flow executor.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { PoliciesApi } from '@goauthentik/api/dist/apis/PoliciesApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { BrowserSession } from '../helpers/official-client.js';
import { createUser, flowOf, defaultStages } from '../helpers/flows.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { body, failure } from '../rest/contract/client.js';
import { updateReputation } from '../../src/auth/reputation.js';
import { readConfigEpoch } from '../../src/db/config-epoch.js';

const FLOW = 'default-authentication-flow';

for (const dialect of dialects()) {
  describe(`reputation policy and scores (${dialect})`, () => {
    let srv: TestServer;
    let api: PoliciesApi;
    let uid: number;
    before(async () => {
      srv = await startServer(dialect, {
        reputation: { lowerLimit: -3, upperLimit: 2, expirySeconds: 86400 },
        // no slow-down between the failures these tests make
        lockout: { accountIpLimit: 100, accountLimit: 1000, ipLimit: 1000, slowAfter: 100 },
      });
      api = new PoliciesApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      uid = await createUser(srv, 'rep-user', 'rep-user-password-1');
    });
    after(async () => srv.close());

    const scores = async (query = '') => (await call(srv, 'GET', `/policies/reputation/scores/?page_size=100${query}`)).body;
    const scoreOf = async (identifier: string) => {
      const r = (await scores(`&identifier=${encodeURIComponent(identifier)}`)).results;
      return r.length ? (r[0].score as number) : undefined;
    };
    const clearScores = () => srv.app.store.db.deleteFrom('reputation_scores').execute();
    /** identification + password in the default flow; returns the last challenge */
    const login = async (username: string, password: string) => {
      const s = new BrowserSession(srv);
      await s.get(FLOW);
      const pw = await s.solve(FLOW, { component: 'ak-stage-identification', uid_field: username });
      if (pw.component !== 'ak-stage-password') return pw;
      return s.solve(FLOW, { component: 'ak-stage-password', password });
    };

    it('REST: defaults, "Either IP or Username must be checked", filters (official client and raw HTTP)', async () => {
      const none = await failure(api.policiesReputationCreate({ reputationPolicyRequest: { name: 'rep-none', threshold: -5 } }));
      assert.deepEqual(none, { status: 400, body: { non_field_errors: ['Either IP or Username must be checked'] } });
      const off = await call(srv, 'POST', '/policies/reputation/', { name: 'rep-off', check_ip: false, check_username: false });
      assert.deepEqual(off.body, { non_field_errors: ['Either IP or Username must be checked'] });
      const created = await body(api.policiesReputationCreateRaw({ reputationPolicyRequest: { name: 'rep-ip', checkIp: true } }));
      assertMatches('ReputationPolicy', created);
      assert.deepEqual(
        [created.check_ip, created.check_username, created.threshold, created.component, created.meta_model_name, created.verbose_name],
        [true, true, -5, 'ak-policy-reputation-form', 'authentik_policies_reputation.reputationpolicy', 'Reputation Policy'],
      );
      // authentik looks at what was sent, on updates too
      assert.deepEqual((await call(srv, 'PATCH', `/policies/reputation/${created.pk}/`, { threshold: 3 })).body, {
        non_field_errors: ['Either IP or Username must be checked'],
      });
      const patched = await call(srv, 'PATCH', `/policies/reputation/${created.pk}/`, {
        check_username: true,
        check_ip: false,
        threshold: 3,
      });
      assert.deepEqual([patched.status, patched.body.check_ip, patched.body.threshold], [200, false, 3]);
      await call(srv, 'POST', '/policies/reputation/', { name: 'rep-other', check_ip: true });
      assert.deepEqual(
        (await body(api.policiesReputationListRaw({ threshold: 3 }))).results.map((p: { name: string }) => p.name),
        ['rep-ip'],
      );
      assert.equal((await call(srv, 'GET', '/policies/reputation/?check_ip=false')).body.pagination.count, 1);
      assert.equal((await call(srv, 'GET', '/policies/reputation/?threshold=x')).status, 400);
      assert.deepEqual((await call(srv, 'POST', '/policies/reputation/', { name: 'rep-bad', check_ip: true, threshold: 1.5 })).body, {
        threshold: ['A valid integer is required.'],
      });
      const type = (await call(srv, 'GET', '/policies/all/types/')).body.find(
        (t: { model_name: string }) => t.model_name === 'reputationpolicy',
      );
      assert.equal(type.description, "Return true if request IP/target username's score is below a certain threshold");
    });

    it('scores follow logins as authentik’s signals: -1 per failure (password, unknown identifier), +1 per login, clamped', async () => {
      await clearScores();
      const bad = await login('rep-user', 'wrong-password');
      assert.equal(bad.component, 'ak-stage-password');
      assert.equal(await scoreOf('rep-user'), -1);
      await login('rep-user', 'wrong-password');
      assert.equal(await scoreOf('rep-user'), -2);
      // an unknown identifier: authentik's identification_failed lowers what was typed (the password, not checked
      // against anything, lowers it once more, as authentik's login_failed for the pretend user)
      await login('nobody-here', 'whatever');
      assert.equal(await scoreOf('nobody-here'), -2);
      const ok = await login('rep-user', 'rep-user-password-1');
      assert.notEqual(ok.component, 'ak-stage-password', JSON.stringify(ok));
      assert.equal(await scoreOf('rep-user'), -1, 'a login raises it by one');
      for (let i = 0; i < 4; i++) await login('rep-user', 'wrong-password');
      assert.equal(await scoreOf('rep-user'), -3, 'never below the lower limit');
      for (let i = 0; i < 7; i++) await updateReputation(srv.app.store.db, srv.config.reputation, '127.0.0.1', 'rep-user', 1);
      assert.equal(await scoreOf('rep-user'), 2, 'never above the upper limit');
      const row = (await scores('&identifier=rep-user')).results[0];
      assertMatches('Reputation', row);
      assert.deepEqual([row.ip, row.ip_geo_data, row.ip_asn_data], ['127.0.0.1', {}, {}]);
    });

    it('concurrent failures are all counted (one atomic upsert each); scores do not move the configuration epoch', async () => {
      await clearScores();
      const db = srv.app.store.db;
      const epoch = async () => (dialect === 'postgres' ? await readConfigEpoch(db) : undefined);
      const epochBefore = await epoch();
      const cfg = { lowerLimit: -1000, upperLimit: 1000, expirySeconds: 3600 };
      await Promise.all(Array.from({ length: 40 }, () => updateReputation(db, cfg, '10.9.8.7', 'race', -1)));
      await Promise.all(Array.from({ length: 15 }, () => updateReputation(db, cfg, '10.9.8.7', 'race', 1)));
      assert.equal(await scoreOf('race'), -25);
      assert.equal((await scores('&identifier=race')).pagination.count, 1, 'one row per (identifier, ip)');
      assert.equal(await epoch(), epochBefore, 'not a configuration table');
    });

    it('scores API: list filters, retrieve, used_by, destroy (official client)', async () => {
      await clearScores();
      const db = srv.app.store.db;
      const cfg = srv.config.reputation;
      await updateReputation(db, cfg, '192.0.2.1', 'alice', -1);
      await updateReputation(db, cfg, '192.0.2.2', 'alice', 1);
      await updateReputation(db, cfg, '192.0.2.1', 'bob', -1);
      const list = await body(api.policiesReputationScoresListRaw({}));
      assertMatches('PaginatedReputationList', list);
      assert.deepEqual(
        list.results.map((r: { ip: string }) => r.ip),
        ['192.0.2.1', '192.0.2.1', '192.0.2.2'],
        'ordered by ip',
      );
      assert.equal((await body(api.policiesReputationScoresListRaw({ identifier: 'alice' }))).pagination.count, 2);
      assert.equal((await body(api.policiesReputationScoresListRaw({ identifierIn: ['alice', 'bob'] }))).pagination.count, 3);
      assert.equal((await scores('&identifier_in=bob,carol')).pagination.count, 1);
      assert.equal((await body(api.policiesReputationScoresListRaw({ ip: '192.0.2.2' }))).pagination.count, 1);
      assert.equal((await body(api.policiesReputationScoresListRaw({ score: -1 }))).pagination.count, 2);
      assert.equal((await scores('&search=bob')).pagination.count, 1);
      assert.equal((await call(srv, 'GET', '/policies/reputation/scores/?score=low')).status, 400);
      const one = list.results[0];
      const got = await body(api.policiesReputationScoresRetrieveRaw({ reputationUuid: one.pk }));
      assertMatches('Reputation', got);
      assert.deepEqual(got, one);
      assert.deepEqual(await body(api.policiesReputationScoresUsedByListRaw({ reputationUuid: one.pk })), []);
      assert.equal((await api.policiesReputationScoresDestroyRaw({ reputationUuid: one.pk })).raw.status, 204);
      const gone = await call(srv, 'GET', `/policies/reputation/scores/${one.pk}/`);
      assert.deepEqual([gone.status, gone.body], [404, { detail: 'No Reputation matches the given query.' }]);
      assert.equal((await call(srv, 'POST', '/policies/reputation/scores/', { identifier: 'x', ip: '1.2.3.4' })).status, 405);
    });

    it('evaluation: passes at or below the threshold, by IP and/or username, expired scores not counted, no side effects', async () => {
      await clearScores();
      const db = srv.app.store.db;
      const cfg = srv.config.reputation;
      const pk = (
        await call(srv, 'POST', '/policies/reputation/', { name: 'rep-eval', check_ip: true, check_username: false, threshold: -2 })
      ).body.pk as string;
      const test = async () => {
        const r = await call(srv, 'POST', `/policies/all/${pk}/test/`, { user: uid, context: {} });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return r.body.passing as boolean;
      };
      assert.equal(await test(), false, 'no score: 0 is above -2');
      await updateReputation(db, cfg, '127.0.0.1', 'someone', -1);
      await updateReputation(db, cfg, '127.0.0.1', 'someone-else', -1);
      await updateReputation(db, cfg, '203.0.113.9', 'rep-user', -3);
      assert.equal(await test(), true, 'the IP’s scores add up to -2');
      await call(srv, 'PATCH', `/policies/reputation/${pk}/`, { check_ip: false, check_username: true });
      assert.equal(await test(), true, 'the username’s score is -3');
      await call(srv, 'PATCH', `/policies/reputation/${pk}/`, { check_ip: true, check_username: true, threshold: -5 });
      assert.equal(await test(), true, 'IP or username: -5');
      const before = (await scores()).results;
      await test();
      assert.deepEqual((await scores()).results, before, 'a test changes no score');
      await db
        .updateTable('reputation_scores')
        .set({ expires: new Date(Date.now() - 1000).toISOString() })
        .where('identifier', '=', 'rep-user')
        .execute();
      assert.equal(await test(), false, 'the expired score no longer counts');
      assert.equal((await scores('&identifier=rep-user')).pagination.count, 1, 'expired scores are still listed');
    });

    it('in a flow: a negated reputation binding denies the flow to an IP after failed logins', async () => {
      await clearScores();
      const stages = await defaultStages(srv);
      const slug = await flowOf(srv, 'rep-guarded', [stages.identification, stages.password, stages.login]);
      const flow = (await call(srv, 'GET', `/flows/instances/${slug}/`)).body.pk;
      const policy = (await call(srv, 'POST', '/policies/reputation/', { name: 'rep-flow', check_ip: true, threshold: -2 })).body.pk;
      const b = await call(srv, 'POST', '/policies/bindings/', { target: flow, policy, order: 0, negate: true });
      assert.equal(b.status, 201, JSON.stringify(b.body));
      assert.equal((await new BrowserSession(srv).get(slug)).component, 'ak-stage-identification', 'a clean IP gets in');
      const s = new BrowserSession(srv);
      await s.get(slug);
      await s.solve(slug, { component: 'ak-stage-identification', uid_field: 'rep-user' });
      await s.solve(slug, { component: 'ak-stage-password', password: 'wrong-1' });
      await s.solve(slug, { component: 'ak-stage-password', password: 'wrong-2' });
      const denied = await new BrowserSession(srv).get(slug);
      assert.equal(denied.component, 'ak-stage-access-denied');

      // the same through an expression that calls it (ak_call_policy): the called policy sees the client's IP too
      await call(srv, 'DELETE', `/policies/bindings/${b.body.pk}/`);
      const caller = await call(srv, 'POST', '/policies/expression/', {
        name: 'rep-caller',
        expression: 'return not ak_call_policy("rep-flow").passing',
      });
      assert.equal(caller.status, 201, JSON.stringify(caller.body));
      const b2 = await call(srv, 'POST', '/policies/bindings/', { target: flow, policy: caller.body.pk, order: 0 });
      assert.equal(b2.status, 201, JSON.stringify(b2.body));
      assert.equal((await new BrowserSession(srv).get(slug)).component, 'ak-stage-access-denied');
      await clearScores();
      assert.equal((await new BrowserSession(srv).get(slug)).component, 'ak-stage-identification', 'a clean IP gets in');
      await call(srv, 'DELETE', `/policies/bindings/${b2.body.pk}/`);
      await call(srv, 'DELETE', `/policies/reputation/${policy}/`);
      assert.equal((await new BrowserSession(srv).get(slug)).component, 'ak-stage-identification');
    });
  });
}
