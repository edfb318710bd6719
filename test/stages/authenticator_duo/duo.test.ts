/** Duo as a second factor: enrolment and push login against a Duo Auth API v2 double that verifies signatures. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { BrowserSession } from '../../helpers/official-client.js';
import { FakeDuo } from '../../helpers/fake-duo.js';
import { createStage, createUser, defaultStages, flowOf } from '../../helpers/flows.js';
import { canonParams, sign } from '../../../src/mfa/duo/duo-api.js';
import { failure } from '../../rest/contract/client.js';

for (const dialect of dialects()) {
  describe(`executor: Duo (${dialect})`, () => {
    let srv: TestServer;
    let duo: FakeDuo;
    let duoStage: string;
    let slug: string;
    before(async () => {
      duo = await new FakeDuo('DIXXXXXXXXXXXXXXXXXX', 'duo-secret-key-0123456789', {
        ikey: 'DIADMINXXXXXXXXXXXXX',
        skey: 'duo-admin-secret-0123456789',
      }).start();
      srv = await startServer(dialect);
      const s = await defaultStages(srv);
      duoStage = await createStage(srv, '/stages/authenticator/duo/', {
        name: 'duo-setup',
        client_id: 'DIXXXXXXXXXXXXXXXXXX',
        client_secret: 'duo-secret-key-0123456789',
        api_hostname: duo.url,
      });
      const validate = await createStage(srv, '/stages/authenticator/validate/', {
        name: 'duo-validate',
        not_configured_action: 'configure',
        configuration_stages: [duoStage],
      });
      slug = await flowOf(srv, 'duo-flow', [s.identification, s.password, validate, s.login]);
    });
    after(async () => {
      await srv.close();
      await duo.close();
    });

    async function toMfa(user: string) {
      const b = new BrowserSession(srv);
      await b.get(slug);
      await b.solve(slug, { component: 'ak-stage-identification', uid_field: user });
      return { b, ch: await b.solve(slug, { component: 'ak-stage-password', password: `${user}-password-1` }) };
    }

    it('signs requests as Duo documents (canonical form, sorted RFC 3986 parameters)', () => {
      assert.equal(canonParams({ username: 'root', realname: 'First Last' }), 'realname=First%20Last&username=root');
      const auth = sign(
        {
          client_id: 'DIWJ8X6AEYOR5OMC6TQ1',
          client_secret: 'Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep',
          api_hostname: 'api-xxxxxxxx.duosecurity.com',
        },
        'Tue, 21 Aug 2012 17:29:18 -0000',
        'POST',
        'api-xxxxxxxx.duosecurity.com',
        '/accounts/v1/account/list',
        { realname: 'First Last', username: 'root' },
      );
      assert.match(auth, /^Basic /);
      assert.ok(Buffer.from(auth.slice(6), 'base64').toString().startsWith('DIWJ8X6AEYOR5OMC6TQ1:'));
      assert.equal(Buffer.from(auth.slice(6), 'base64').toString().split(':')[1]!.length, 128, 'HMAC-SHA512 in hex');
    });

    it('enrolment shows Duo’s activation code; the device is saved once Duo reports it active; pushes log in', async () => {
      const id = await createUser(srv, 'dina', 'dina-password-1');
      const { b, ch } = await toMfa('dina');
      assert.equal(ch.component, 'ak-stage-authenticator-duo');
      assert.match(ch.activation_code, /^duo:\/\/act-\d+$/);
      assert.equal(ch.stage_uuid, duoStage);
      const enroll = duo.calls.find((c) => c.path === '/auth/v2/enroll')!;
      assert.equal(enroll.signatureValid, true);
      assert.equal(enroll.params.username, 'dina');
      const waiting = await b.solve(slug, { component: 'ak-stage-authenticator-duo' });
      assert.match(waiting.response_errors.non_field_errors[0].string, /not complete yet/);
      const duoUser = duo.calls.filter((c) => c.path === '/auth/v2/enroll_status').at(-1)!.params.user_id!;
      duo.activated.add(duoUser);
      assert.equal((await b.solve(slug, { component: 'ak-stage-authenticator-duo' })).component, 'xak-flow-redirect');
      const dev = await srv.app.store.db.selectFrom('duo_devices').selectAll().where('user_id', '=', id).executeTakeFirstOrThrow();
      assert.equal(dev.duo_user_id, duoUser);

      const next = await toMfa('dina');
      assert.equal(next.ch.component, 'ak-stage-authenticator-validate');
      assert.deepEqual(
        next.ch.device_challenges.map((d: { device_class: string }) => d.device_class),
        ['duo'],
      );
      const done = await next.b.solve(slug, { component: 'ak-stage-authenticator-validate', duo: dev.id });
      assert.equal(done.component, 'xak-flow-redirect');
      const push = duo.calls.filter((c) => c.path === '/auth/v2/auth').at(-1)!;
      assert.equal(push.signatureValid, true);
      assert.deepEqual(
        [push.params.user_id, push.params.factor, push.params.device, push.params.display_username],
        [duoUser, 'auto', 'auto', 'dina'],
      );
      assert.equal(push.params.type, 'Keystage Login request', 'the brand title names the request');
      const used = await srv.app.store.db.selectFrom('duo_devices').select('last_used').where('id', '=', dev.id).executeTakeFirstOrThrow();
      assert.ok(used.last_used, 'last_used is set by a push login');

      duo.denying.add(duoUser);
      const denied = await toMfa('dina');
      const r = await denied.b.solve(slug, { component: 'ak-stage-authenticator-validate', duo: dev.id });
      assert.deepEqual(r.response_errors, { duo: [{ string: 'Duo denied access', code: 'denied' }] });
    });

    it('an administrator imports the Duo user while the person enrols: the enrolment ends with that one device', async () => {
      const id = await createUser(srv, 'dora', 'dora-password-1');
      const { b } = await toMfa('dora');
      await b.solve(slug, { component: 'ak-stage-authenticator-duo' });
      const duoUser = duo.calls.filter((c) => c.path === '/auth/v2/enroll_status').at(-1)!.params.user_id!;
      const imported = await call(srv, 'POST', `/stages/authenticator/duo/${duoStage}/import_device_manual/`, {
        duo_user_id: duoUser,
        username: 'dora',
      });
      assert.equal(imported.status, 204, JSON.stringify(imported.body));
      duo.activated.add(duoUser);
      const done = await b.solve(slug, { component: 'ak-stage-authenticator-duo' });
      assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
      const devices = await srv.app.store.db.selectFrom('duo_devices').select('duo_user_id').where('user_id', '=', id).execute();
      assert.deepEqual(devices, [{ duo_user_id: duoUser }]);
    });

    it('enrollment_status: Duo’s answer for the session’s activation at this stage, for polling (authentik’s action)', async () => {
      await createUser(srv, 'poll', 'poll-password-1');
      const { b, ch } = await toMfa('poll');
      assert.equal(ch.component, 'ak-stage-authenticator-duo');
      const status = () => b.stages.stagesAuthenticatorDuoEnrollmentStatusCreateRaw({ stageUuid: duoStage }).then((r) => r.raw.json());
      assert.deepEqual(await status(), { duo_response: 'waiting' });
      const asked = duo.calls.filter((c) => c.path === '/auth/v2/enroll_status').at(-1)!;
      assert.equal(asked.signatureValid, true);
      assert.equal(asked.params.activation_code, ch.activation_code);
      duo.activated.add(asked.params.user_id!);
      assert.deepEqual(await status(), { duo_response: 'success' });
      // polling saved nothing: the flow's response does
      const pk = (await call(srv, 'GET', '/core/users/?username=poll')).body.results[0].pk;
      const devices = () => srv.app.store.db.selectFrom('duo_devices').select('id').where('user_id', '=', pk).execute();
      assert.equal((await devices()).length, 0);
      assert.equal((await b.solve(slug, { component: 'ak-stage-authenticator-duo' })).component, 'xak-flow-redirect');
      assert.equal((await devices()).length, 1);
      // the activation is over: nothing left to ask about (400, no body); another session has none; an unknown stage is a 404
      assert.deepEqual(await failure(b.stages.stagesAuthenticatorDuoEnrollmentStatusCreateRaw({ stageUuid: duoStage })), {
        status: 400,
        body: '',
      });
      const stranger = await fetch(`${srv.api}/stages/authenticator/duo/${duoStage}/enrollment_status/`, { method: 'POST' });
      assert.equal(stranger.status, 400);
      const unknown = await fetch(`${srv.api}/stages/authenticator/duo/00000000-0000-4000-8000-000000000000/enrollment_status/`, {
        method: 'POST',
      });
      assert.deepEqual([unknown.status, await unknown.json()], [404, { detail: 'No AuthenticatorDuoStage matches the given query.' }]);
    });

    it('import_device_manual attaches an existing Duo user; a wrong secret fails closed', async () => {
      const id = await createUser(srv, 'imp', 'imp-password-1');
      const r = await call(srv, 'POST', `/stages/authenticator/duo/${duoStage}/import_device_manual/`, {
        duo_user_id: 'DUIMPORTED',
        username: 'imp',
      });
      assert.equal(r.status, 204);
      const dev = await srv.app.store.db
        .selectFrom('duo_devices')
        .select(['id', 'duo_user_id'])
        .where('user_id', '=', id)
        .executeTakeFirstOrThrow();
      assert.equal(dev.duo_user_id, 'DUIMPORTED');
      assert.deepEqual(
        (await call(srv, 'POST', `/stages/authenticator/duo/${duoStage}/import_device_manual/`, { duo_user_id: 'X', username: 'nobody' }))
          .body,
        { non_field_errors: ['User does not exist.'] },
      );
      // (authentik's answers: non-field errors, the device named as its automatic imports are)
      const again = await call(srv, 'POST', `/stages/authenticator/duo/${duoStage}/import_device_manual/`, {
        duo_user_id: 'DUIMPORTED',
        username: 'imp',
      });
      assert.deepEqual([again.status, again.body], [400, { non_field_errors: ['Device exists already.'] }]);
      const named = await srv.app.store.db.selectFrom('duo_devices').select('name').where('id', '=', dev.id).executeTakeFirstOrThrow();
      assert.equal(named.name, 'Imported Duo Authenticator');
      const list = await call(srv, 'GET', '/authenticators/admin/duo/');
      assert.ok(list.body.results.some((d: { pk: number }) => d.pk === dev.id));
      // a stage with the wrong secret: Duo refuses the signature and the login does not pass
      await call(srv, 'PATCH', `/stages/authenticator/duo/${duoStage}/`, { client_secret: 'wrong-secret' });
      try {
        const { b } = await toMfa('imp');
        const r2 = await b.solve(slug, { component: 'ak-stage-authenticator-validate', duo: dev.id });
        assert.equal(r2.component, 'ak-stage-authenticator-validate', 'a Duo API error is a refusal on the form, not a flow error');
        assert.deepEqual(r2.response_errors, { duo: [{ string: 'Duo denied access', code: 'denied' }] });
      } finally {
        await call(srv, 'PATCH', `/stages/authenticator/duo/${duoStage}/`, { client_secret: 'duo-secret-key-0123456789' });
      }
      const stage = await call(srv, 'GET', `/stages/authenticator/duo/${duoStage}/`);
      assert.equal('client_secret' in stage.body, false);
    });

    it('import_devices_automatic: every Duo user named as a Keystage user, through the signed Admin API, once', async () => {
      const path = `/stages/authenticator/duo/${duoStage}/import_devices_automatic/`;
      const none = await call(srv, 'POST', path);
      assert.deepEqual(
        [none.status, none.body],
        [400, { non_field_errors: ['Stage does not have Admin API configured, which is required for automatic imports.'] }],
      );
      await call(srv, 'PATCH', `/stages/authenticator/duo/${duoStage}/`, {
        admin_integration_key: 'DIADMINXXXXXXXXXXXXX',
        admin_secret_key: 'duo-admin-secret-0123456789',
      });
      const ids: Record<string, number> = {};
      for (let i = 0; i < 5; i++) ids[`auto${i}`] = await createUser(srv, `auto${i}`, `auto${i}-password-1`);
      // 305 Duo users (two pages of 300): five are Keystage users
      duo.adminUsers = Array.from({ length: 300 }, (_, i) => ({ user_id: `DUX${i}`, username: `elsewhere${i}` }));
      for (let i = 0; i < 5; i++) duo.adminUsers.push({ user_id: `DUAUTO${i}`, username: `auto${i}` });
      const first = await call(srv, 'POST', path);
      assert.deepEqual([first.status, first.body], [200, { count: 5, error: '' }]);
      const pages = duo.calls.filter((c) => c.path === '/admin/v1/users');
      assert.deepEqual(
        pages.map((c) => [c.params.offset, c.signatureValid]),
        [
          ['0', true],
          ['300', true],
        ],
      );
      const dev = await srv.app.store.db
        .selectFrom('duo_devices')
        .select(['duo_user_id', 'name', 'confirmed', 'stage'])
        .where('user_id', '=', ids.auto3!)
        .executeTakeFirstOrThrow();
      assert.deepEqual(
        [dev.duo_user_id, dev.name, Number(dev.confirmed), dev.stage],
        ['DUAUTO3', 'Imported Duo Authenticator', 1, duoStage],
      );
      // run again, and twice at once: nothing new
      const again = await Promise.all([call(srv, 'POST', path), call(srv, 'POST', path)]);
      assert.deepEqual(
        again.map((a) => a.body),
        [
          { count: 0, error: '' },
          { count: 0, error: '' },
        ],
      );
      // Duo refusing the admin key pair: 400 with Duo's message
      await call(srv, 'PATCH', `/stages/authenticator/duo/${duoStage}/`, { admin_secret_key: 'wrong' });
      const refused = await call(srv, 'POST', path);
      assert.equal(refused.status, 400);
      assert.match(refused.body.error, /Invalid signature/);
      assert.equal(refused.body.count, 0);
    });
  });
}
