/**
 * Authenticator validation through the executor: TOTP (and replay refused), recovery codes (single use, also under
 * a race), WebAuthn (authentik's test vector), last_auth_threshold, not_configured_action, throttling.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { BrowserSession } from '../../helpers/official-client.js';
import { CookieJar } from '../../helpers/cookie-jar.js';
import { createStage, createUser, defaultStages, flowOf } from '../../helpers/flows.js';
import { addTotpDevice } from '../../helpers/devices.js';
import { currentStep, totpAt } from '../../../src/mfa/totp/totp.js';
import { hashStaticToken } from '../../../src/mfa/static/static.js';
import { sessionKeyOf } from '../../../src/sessions/session-hash.js';

const SECRET = 'mfa-test-secret-' + 's'.repeat(32);
const FLOW = 'default-authentication-flow';
const code = (key: string, offset = 0) => totpAt(key, currentStep({ t0: 0, step: 30 }) + offset, 6);

// authentik's WebAuthn test vector A (flow-engine.md): rpId localhost, origin http://localhost:9000, counter 5
const VECTOR = {
  credentialId: 'QKZ97ASJAOIDyipAs6mKUxDUZgDrWrbAsUb5leL7-oU',
  publicKey: 'pQECAyYgASFYIGsBLkklToCQkT7qJT_bJYN1sEc1oJdbnmoOc43i0JH6IlggLTXytuhzFVYYAK4PQNj8_coGrbbzSfUxdiPAcZTQCyU',
  challenge: 'g98I51mQvZXo5lxLfhrD2zfolhZbLRyCgqkkYap1jwSaJ13BguoJWCF9_Lg3AgO4Wh-Bqa556JE20oKsYbl6RA',
  assertion: {
    id: 'QKZ97ASJAOIDyipAs6mKUxDUZgDrWrbAsUb5leL7-oU',
    rawId: 'QKZ97ASJAOIDyipAs6mKUxDUZgDrWrbAsUb5leL7-oU',
    type: 'public-key',
    assertionClientExtensions: '{}',
    response: {
      clientDataJSON:
        'eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiZzk4STUxbVF2WlhvNWx4TGZockQyemZvbGhaYkxSeUNncWtrWWFwMWp3U2FKMTNCZ3VvSldDRjlfTGczQWdPNFdoLUJxYTU1NkpFMjBvS3NZYmw2UkEiLCJvcmlnaW4iOiJodHRwOi8vbG9jYWxob3N0OjkwMDAiLCJjcm9zc09yaWdpbiI6ZmFsc2UsIm90aGVyX2tleXNfY2FuX2JlX2FkZGVkX2hlcmUiOiJkbyBub3QgY29tcGFyZSBjbGllbnREYXRhSlNPTiBhZ2FpbnN0IGEgdGVtcGxhdGUuIFNlZSBodHRwczovL2dvby5nbC95YWJQZXgifQ==',
      signature: 'MEQCIFNlrHf9ablJAalXLWkrqvHB8oIu8kwvRpH3X3rbJVpIAiAqtOK6mIZPk62kZN0OzFsHfuvu_RlOl7zlqSNzDdz_Ag==',
      authenticatorData: 'SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAABQ==',
      userHandle: null,
    },
  },
};

for (const dialect of dialects()) {
  describe(`executor: authenticator validation (${dialect})`, () => {
    let srv: TestServer;
    let stages: Awaited<ReturnType<typeof defaultStages>>;
    before(async () => {
      srv = await startServer(dialect, { secretKey: SECRET, trustedProxies: '127.0.0.1' });
      stages = await defaultStages(srv);
    });
    after(async () => srv.close());

    const now = () => new Date().toISOString();
    async function totpUser(name: string) {
      const id = await createUser(srv, name, `${name}-password-1`);
      const { id: device, key } = await addTotpDevice(srv.app.store.db, id);
      return { id, key, device };
    }
    async function staticUser(name: string, codes: string[]) {
      const id = await createUser(srv, name, `${name}-password-1`);
      const dev = await srv.app.store.db
        .insertInto('static_devices')
        .values({
          user_id: id,
          name: 'codes',
          confirmed: 1,
          created: now(),
          last_updated: now(),
          last_used: null,
          throttling_failure_timestamp: null,
          throttling_failure_count: 0,
        } as never)
        .returning('id')
        .executeTakeFirstOrThrow();
      for (const c of codes)
        await srv.app.store.db
          .insertInto('static_tokens')
          .values({ device_id: dev.id, token: hashStaticToken(SECRET, c) } as never)
          .execute();
      return { id, device: dev.id };
    }
    async function atValidation(username: string, headers: Record<string, string> = {}, b = new BrowserSession(srv, headers)) {
      await b.get(FLOW);
      await b.solve(FLOW, { component: 'ak-stage-identification', uid_field: username });
      const ch = await b.solve(FLOW, { component: 'ak-stage-password', password: `${username}-password-1` });
      return { b, ch };
    }

    /** the vector was signed over a fixed challenge: put it where the last render stored its own */
    async function useVectorChallenge(b: BrowserSession) {
      const key = sessionKeyOf(b.cookies.get('authentik_session')!);
      const row = await srv.app.store.db.selectFrom('sessions').select('data').where('session_key', '=', key).executeTakeFirstOrThrow();
      const data = JSON.parse(row.data);
      // the current stage's own state (StageCall.state), where its last render kept its challenge
      const stage = data.plan.bindings[0].stage_uuid;
      data.plan.context.stages[stage].webauthnChallenge = VECTOR.challenge;
      await srv.app.store.db
        .updateTable('sessions')
        .set({ data: JSON.stringify(data) })
        .where('session_key', '=', key)
        .execute();
    }

    it('TOTP: the challenge lists the device; a wrong code is refused; the right code logs in; replaying it is refused', async () => {
      const u = await totpUser('kim');
      const { b, ch } = await atValidation('kim');
      assert.equal(ch.component, 'ak-stage-authenticator-validate');
      assert.deepEqual(ch.device_challenges, [{ device_class: 'totp', device_uid: String(u.device), challenge: {}, last_used: null }]);
      const good = code(u.key);
      const wrong = await b.solve(FLOW, { component: 'ak-stage-authenticator-validate', code: good === '123456' ? '654321' : '123456' });
      assert.deepEqual(wrong.response_errors, {
        code: [{ string: 'Invalid Token. Please ensure the time on your device is accurate and try again.', code: 'invalid' }],
      });
      // authentik's validation stage sends login_failed with the username: the reputation of (kim, this IP) drops
      const score = async () =>
        Number(
          (
            await srv.app.store.db
              .selectFrom('reputation_scores')
              .select('score')
              .where('identifier', '=', 'kim')
              .where('ip', '=', '127.0.0.1')
              .executeTakeFirst()
          )?.score ?? 0,
        );
      assert.equal(await score(), -1);
      // the login_failed event: the username, the stage as a model and the device class (authentik's signal)
      const failed = await srv.app.store.db
        .selectFrom('events')
        .select('context')
        .where('action', '=', 'login_failed')
        .where('username', '=', 'kim')
        .orderBy('created', 'desc')
        .executeTakeFirstOrThrow();
      const { http_request: _h, reason: _r, ...ctx } = JSON.parse(failed.context);
      const stage = (await call(srv, 'GET', '/stages/authenticator/validate/?name=default-authentication-mfa-validation')).body.results[0];
      assert.deepEqual(ctx, {
        username: 'kim',
        device_class: 'totp',
        stage: { app: 'authentik_stages_authenticator_validate', model_name: 'authenticatorvalidatestage', pk: stage.pk, name: stage.name },
      });
      // the failed attempt throttles the device for a second (totp_otp_throttling_factor 1): the right code waits
      const throttled = await b.solve(FLOW, { component: 'ak-stage-authenticator-validate', code: good });
      assert.equal(throttled.component, 'ak-stage-authenticator-validate', 'refused while throttled');
      await new Promise((r) => setTimeout(r, 1100));
      const before = await score();
      const done = await b.solve(FLOW, { component: 'ak-stage-authenticator-validate', code: good });
      assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
      assert.equal(await score(), before + 1, 'the login raises it');
      const replay = await atValidation('kim');
      const again = await replay.b.solve(FLOW, { component: 'ak-stage-authenticator-validate', code: good });
      assert.equal(again.component, 'ak-stage-authenticator-validate', 'the same code in the same time step is refused');
      const row = await srv.app.store.db
        .selectFrom('totp_devices')
        .select(['last_used', 'last_t'])
        .where('id', '=', u.device)
        .executeTakeFirstOrThrow();
      assert.ok(row.last_used);
      assert.ok(row.last_t >= currentStep({ t0: 0, step: 30 }) - 1);
    });

    it('recovery code: used once; two sessions racing with the same code — exactly one wins', async () => {
      await staticUser('lou', ['SingleUse123', 'RaceCode456']);
      const first = await atValidation('lou');
      assert.equal(
        (await first.b.solve(FLOW, { component: 'ak-stage-authenticator-validate', code: 'SingleUse123' })).component,
        'xak-flow-redirect',
      );
      const second = await atValidation('lou');
      assert.equal(
        (await second.b.solve(FLOW, { component: 'ak-stage-authenticator-validate', code: 'SingleUse123' })).component,
        'ak-stage-authenticator-validate',
      );
      // that failure throttles the device for a second
      await new Promise((r) => setTimeout(r, 1100));
      const [a, b] = await Promise.all([atValidation('lou'), atValidation('lou')]);
      const results = await Promise.all(
        [a, b].map((s) => s.b.solve(FLOW, { component: 'ak-stage-authenticator-validate', code: 'RaceCode456' })),
      );
      assert.deepEqual(results.map((r) => r.component).sort(), ['ak-stage-authenticator-validate', 'xak-flow-redirect']);
    });

    it('WebAuthn: authentik’s test vector verifies; the counter is stored; a replay fails', async () => {
      const id = await createUser(srv, 'mo', 'mo-password-1');
      const dev = await srv.app.store.db
        .insertInto('webauthn_devices')
        .values({
          user_id: id,
          name: 'vector key',
          confirmed: 1,
          created: now(),
          last_updated: now(),
          last_used: null,
          credential_id: VECTOR.credentialId,
          public_key: VECTOR.publicKey,
          sign_count: 4,
          rp_id: 'localhost',
          aaguid: '00000000-0000-0000-0000-000000000000',
          transports: '[]',
        } as never)
        .returning('id')
        .executeTakeFirstOrThrow();
      const headers = { 'x-forwarded-host': 'localhost:9000', 'x-forwarded-proto': 'http' };
      const { b, ch } = await atValidation('mo', headers);
      const wa = ch.device_challenges.find((c: { device_class: string }) => c.device_class === 'webauthn');
      assert.equal(wa.challenge.rpId, 'localhost');
      assert.equal(wa.challenge.timeout, 60000);
      assert.deepEqual(wa.challenge.allowCredentials, [{ id: VECTOR.credentialId, type: 'public-key' }]);
      await useVectorChallenge(b);
      const done = await b.solve(FLOW, { component: 'ak-stage-authenticator-validate', webauthn: VECTOR.assertion });
      assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
      const after = await srv.app.store.db
        .selectFrom('webauthn_devices')
        .select('sign_count')
        .where('id', '=', dev.id)
        .executeTakeFirstOrThrow();
      assert.equal(after.sign_count, 5);
      const again = await atValidation('mo', headers);
      await useVectorChallenge(again.b);
      const replay = await again.b.solve(FLOW, { component: 'ak-stage-authenticator-validate', webauthn: VECTOR.assertion });
      assert.deepEqual(replay.response_errors, { webauthn: [{ string: 'Assertion failed', code: 'invalid' }] });
    });

    it('WebAuthn: a credential registered under another relying party is refused, even for an assertion that matches the request', async () => {
      const id = await createUser(srv, 'rpid', 'rpid-password-1');
      await srv.app.store.db.deleteFrom('webauthn_devices').where('credential_id', '=', VECTOR.credentialId).execute();
      await srv.app.store.db
        .insertInto('webauthn_devices')
        .values({
          user_id: id,
          name: 'key of keystage.test',
          confirmed: 1,
          created: now(),
          last_updated: now(),
          last_used: null,
          credential_id: VECTOR.credentialId,
          public_key: VECTOR.publicKey,
          sign_count: 0,
          rp_id: 'keystage.test',
          aaguid: '00000000-0000-0000-0000-000000000000',
          transports: '[]',
        } as never)
        .execute();
      try {
        // the request names localhost (the relying party the vector was signed for); the key was registered for keystage.test
        const { b, ch } = await atValidation('rpid', { 'x-forwarded-host': 'localhost:9000', 'x-forwarded-proto': 'http' });
        assert.equal(ch.device_challenges.find((c: { device_class: string }) => c.device_class === 'webauthn').challenge.rpId, 'localhost');
        await useVectorChallenge(b);
        const r = await b.solve(FLOW, { component: 'ak-stage-authenticator-validate', webauthn: VECTOR.assertion });
        assert.deepEqual(r.response_errors, { webauthn: [{ string: 'Assertion failed', code: 'invalid' }] });
        const row = await srv.app.store.db
          .selectFrom('webauthn_devices')
          .select('sign_count')
          .where('credential_id', '=', VECTOR.credentialId)
          .executeTakeFirstOrThrow();
        assert.equal(row.sign_count, 0, 'nothing stored');
      } finally {
        await srv.app.store.db.deleteFrom('webauthn_devices').where('credential_id', '=', VECTOR.credentialId).execute();
      }
    });

    it('webauthn_allowed_device_types restricts known authenticator models only; the message names the brand', async () => {
      const yubikey5 = 'cb69481e-8ff7-4039-93ec-0a2729a154a8';
      const yubikey5nfc = '2fc0579f-8113-47ea-b116-bb5a8db9202a';
      const unlisted = '6028b017-b1d4-4c02-b4b3-afcdafc96bb2';
      const headers = { 'x-forwarded-host': 'localhost:9000', 'x-forwarded-proto': 'http' };
      await call(srv, 'PATCH', `/stages/authenticator/validate/${stages.mfa}/`, { webauthn_allowed_device_types: [yubikey5] });
      try {
        /** a user whose only device is the test vector's key, registered as `aaguid`; returns the answer to the vector */
        const attempt = async (username: string, aaguid: string, allowedKeyToo = false) => {
          await srv.app.store.db.deleteFrom('webauthn_devices').where('credential_id', '=', VECTOR.credentialId).execute();
          const id = await createUser(srv, username, `${username}-password-1`);
          if (allowedKeyToo)
            await srv.app.store.db
              .insertInto('webauthn_devices')
              .values({
                user_id: id,
                name: 'allowed key',
                confirmed: 1,
                created: now(),
                last_updated: now(),
                last_used: null,
                credential_id: `other-${username}`,
                public_key: VECTOR.publicKey,
                sign_count: 0,
                rp_id: 'localhost',
                aaguid: yubikey5,
                transports: '[]',
              } as never)
              .execute();
          await srv.app.store.db
            .insertInto('webauthn_devices')
            .values({
              user_id: id,
              name: 'key',
              confirmed: 1,
              created: now(),
              last_updated: now(),
              last_used: null,
              credential_id: VECTOR.credentialId,
              public_key: VECTOR.publicKey,
              sign_count: 0,
              rp_id: 'localhost',
              aaguid,
              transports: '[]',
            } as never)
            .execute();
          const { b, ch } = await atValidation(username, headers);
          await useVectorChallenge(b);
          return { ch, done: await b.solve(FLOW, { component: 'ak-stage-authenticator-validate', webauthn: VECTOR.assertion }) };
        };
        // a model that webauthn_device_types does not know is not restricted (upstream: no device type ⇒ allowed)
        const unknown = await attempt('wa-unlisted', unlisted);
        assert.equal(unknown.done.component, 'xak-flow-redirect', JSON.stringify(unknown.done));
        // a known model outside the list is refused with authentik's message (V26; the user's other key is allowed,
        // so a WebAuthn challenge is offered)
        const refused = await attempt('wa-nfc', yubikey5nfc, true);
        assert.equal(refused.ch.device_challenges[0].device_class, 'webauthn');
        assert.deepEqual(refused.done.response_errors, {
          webauthn: [{ string: 'Invalid device type. Contact your Keystage administrator for help.', code: 'invalid' }],
        });
        const allowed = await attempt('wa-5', yubikey5);
        assert.equal(allowed.done.component, 'xak-flow-redirect', JSON.stringify(allowed.done));
      } finally {
        await call(srv, 'PATCH', `/stages/authenticator/validate/${stages.mfa}/`, { webauthn_allowed_device_types: [] });
        await srv.app.store.db.deleteFrom('webauthn_devices').where('credential_id', '=', VECTOR.credentialId).execute();
      }
    });

    it('passwordless flow: with nobody identified the validation stage offers a user-less passkey challenge (V24)', async () => {
      const headers = { 'x-forwarded-host': 'localhost:9000', 'x-forwarded-proto': 'http' };
      const validate = await createStage(srv, '/stages/authenticator/validate/', {
        name: 'pwl-validate',
        device_classes: ['webauthn'],
        not_configured_action: 'deny',
      });
      const slug = await flowOf(srv, 'passwordless', [validate, stages.login]);
      const id = await createUser(srv, 'pia', 'pia-password-1');
      await srv.app.store.db.deleteFrom('webauthn_devices').where('credential_id', '=', VECTOR.credentialId).execute();
      await srv.app.store.db
        .insertInto('webauthn_devices')
        .values({
          user_id: id,
          name: 'pia key',
          confirmed: 1,
          created: now(),
          last_updated: now(),
          last_used: null,
          credential_id: VECTOR.credentialId,
          public_key: VECTOR.publicKey,
          sign_count: 0,
          rp_id: 'localhost',
          aaguid: '00000000-0000-0000-0000-000000000000',
          transports: '[]',
        } as never)
        .execute();
      try {
        const b = new BrowserSession(srv, headers);
        const ch = await b.get(slug);
        assert.equal(ch.component, 'ak-stage-authenticator-validate');
        assert.equal(ch.device_challenges.length, 1);
        assert.deepEqual(
          { ...ch.device_challenges[0], challenge: undefined },
          { device_class: 'webauthn', device_uid: '-1', challenge: undefined, last_used: null },
        );
        assert.deepEqual(ch.device_challenges[0].challenge.allowCredentials, [], 'any registered credential may answer');
        // a credential nobody registered is refused, and a new challenge is offered
        const unknown = await b.solve(slug, {
          component: 'ak-stage-authenticator-validate',
          webauthn: { ...VECTOR.assertion, id: 'bm9ib2R5', rawId: 'bm9ib2R5' },
        });
        assert.deepEqual(unknown.response_errors, { webauthn: [{ string: 'Invalid device', code: 'invalid' }] });
        assert.equal(unknown.device_challenges[0].device_uid, '-1');
        await useVectorChallenge(b);
        const done = await b.solve(slug, { component: 'ak-stage-authenticator-validate', webauthn: VECTOR.assertion });
        assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
        const me = await b.core.coreUsersMeRetrieveRaw();
        assert.equal((await me.raw.json()).user.username, 'pia', 'the credential’s owner is logged in');
        const event = await srv.app.store.db
          .selectFrom('events')
          .select('context')
          .where('action', '=', 'login')
          .where('username', '=', 'pia')
          .executeTakeFirstOrThrow();
        assert.equal(JSON.parse(event.context).auth_method, 'auth_webauthn_pwl');
      } finally {
        await srv.app.store.db.deleteFrom('webauthn_devices').where('credential_id', '=', VECTOR.credentialId).execute();
      }
    });

    it('last_auth_threshold: a second login within the threshold skips MFA in the same browser only, and only for that user', async () => {
      await call(srv, 'PATCH', `/stages/authenticator/validate/${stages.mfa}/`, { last_auth_threshold: 'hours=1' });
      try {
        const u = await totpUser('nia');
        await totpUser('otto');
        const first = await atValidation('nia');
        assert.equal(
          (await first.b.solve(FLOW, { component: 'ak-stage-authenticator-validate', code: code(u.key) })).component,
          'xak-flow-redirect',
        );
        assert.ok(first.b.cookies.get('authentik_mfa'));
        // a later login in the same browser (only the MFA cookie kept)
        const later = new BrowserSession(srv);
        later.cookies.set('authentik_mfa', first.b.cookies.get('authentik_mfa')!);
        const skipped = await atValidation('nia', {}, later);
        assert.equal(skipped.ch.component, 'xak-flow-redirect', 'validation skipped');
        const other = new BrowserSession(srv);
        other.cookies.set('authentik_mfa', first.b.cookies.get('authentik_mfa')!);
        const notSkipped = await atValidation('otto', {}, other);
        assert.equal(notSkipped.ch.component, 'ak-stage-authenticator-validate', 'the cookie is bound to the user');
      } finally {
        await call(srv, 'PATCH', `/stages/authenticator/validate/${stages.mfa}/`, { last_auth_threshold: 'seconds=0' });
      }
    });

    it('last_auth_threshold: a password set since the MFA check ends the remembered check', async () => {
      await call(srv, 'PATCH', `/stages/authenticator/validate/${stages.mfa}/`, { last_auth_threshold: 'hours=1' });
      try {
        const u = await totpUser('quinn');
        const first = await atValidation('quinn');
        assert.equal(
          (await first.b.solve(FLOW, { component: 'ak-stage-authenticator-validate', code: code(u.key) })).component,
          'xak-flow-redirect',
        );
        const remembered = first.b.cookies.get('authentik_mfa')!;
        assert.ok(remembered);
        const before = new BrowserSession(srv);
        before.cookies.set('authentik_mfa', remembered);
        assert.equal((await atValidation('quinn', {}, before)).ch.component, 'xak-flow-redirect', 'remembered before the change');
        // the same password set again still counts as a change
        assert.equal((await call(srv, 'POST', `/core/users/${u.id}/set_password/`, { password: 'quinn-password-1' })).status, 204);
        const after = new BrowserSession(srv);
        after.cookies.set('authentik_mfa', remembered);
        assert.equal(
          (await atValidation('quinn', {}, after)).ch.component,
          'ak-stage-authenticator-validate',
          'the cookie no longer skips the stage',
        );
      } finally {
        await call(srv, 'PATCH', `/stages/authenticator/validate/${stages.mfa}/`, { last_auth_threshold: 'seconds=0' });
      }
    });

    it('not_configured_action: skip logs in a user without devices; deny refuses', async () => {
      await createUser(srv, 'pat', 'pat-password-1');
      assert.equal((await atValidation('pat')).ch.component, 'xak-flow-redirect');
      await call(srv, 'PATCH', `/stages/authenticator/validate/${stages.mfa}/`, { not_configured_action: 'deny' });
      try {
        const { ch } = await atValidation('pat');
        assert.equal(ch.component, 'ak-stage-access-denied');
        assert.equal(ch.error_message, 'No (allowed) MFA authenticator configured.');
        assert.equal(ch.pending_user, 'pat');
      } finally {
        await call(srv, 'PATCH', `/stages/authenticator/validate/${stages.mfa}/`, { not_configured_action: 'skip' });
      }
    });

    it('device_classes: a class the stage does not allow is not offered, and its codes do not count', async () => {
      await totpUser('quin');
      const ident = await createStage(srv, '/stages/identification/', {
        name: 'mfa-static-only-id',
        user_fields: ['username'],
        password_stage: stages.password,
      });
      const mfa = await createStage(srv, '/stages/authenticator/validate/', {
        name: 'mfa-static-only',
        device_classes: ['static'],
        not_configured_action: 'deny',
      });
      const slug = await flowOf(srv, 'mfa-static-only-flow', [ident, mfa, stages.login]);
      const b = new BrowserSession(srv);
      await b.get(slug);
      const r = await b.solve(slug, { component: 'ak-stage-identification', uid_field: 'quin', password: 'quin-password-1' });
      assert.equal(r.component, 'ak-stage-access-denied');
    });

    it('a right code sent before the stage has offered any challenge in this plan is refused (no compatible device class)', async () => {
      const u = await totpUser('early');
      const jar = new CookieJar();
      const post = async (body: Record<string, unknown>) => {
        // no redirect followed: the validation stage is not rendered between the password and the code
        const res = await fetch(`${srv.api}/flows/executor/${FLOW}/?query=`, {
          method: 'POST',
          headers: jar.headers({ 'content-type': 'application/json' }),
          body: JSON.stringify(body),
          redirect: 'manual',
        });
        jar.keep(res);
        return res;
      };
      assert.equal((await (await jar.fetch(`${srv.api}/flows/executor/${FLOW}/?query=`)).json()).component, 'ak-stage-identification');
      assert.equal((await post({ component: 'ak-stage-identification', uid_field: 'early' })).status, 302);
      assert.equal((await post({ component: 'ak-stage-password', password: 'early-password-1' })).status, 302);
      const early = await post({ component: 'ak-stage-authenticator-validate', code: code(u.key) });
      assert.equal(early.status, 200);
      const body = await early.json();
      assert.equal(body.component, 'ak-stage-authenticator-validate');
      assert.deepEqual(body.response_errors, { code: [{ string: 'No compatible device class allowed', code: 'invalid' }] });
      const row = await srv.app.store.db
        .selectFrom('totp_devices')
        .select(['last_used', 'last_t'])
        .where('id', '=', u.device)
        .executeTakeFirstOrThrow();
      assert.deepEqual(row, { last_used: null, last_t: -1 }, 'the code was not spent');
      // the refusal rendered the stage: now the same code logs in
      const done = await post({ component: 'ak-stage-authenticator-validate', code: code(u.key) });
      assert.equal(done.status, 302);
    });

    it('an anonymous POST to a validation stage outside an authentication flow shows the stage again, empty', async () => {
      const validate = await createStage(srv, '/stages/authenticator/validate/', { name: 'enrol-validate', not_configured_action: 'deny' });
      const slug = await flowOf(srv, 'enrol-with-validate', [validate], { designation: 'enrollment' });
      const jar = new CookieJar();
      const res = await jar.fetch(`${srv.api}/flows/executor/${slug}/?query=`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ component: 'ak-stage-authenticator-validate', code: '123456' }),
      });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.equal(body.component, 'ak-stage-authenticator-validate');
      assert.deepEqual(body.device_challenges, []);
      assert.deepEqual(body.configuration_stages, []);
      assert.deepEqual(body.response_errors, { non_field_errors: [{ string: 'Empty response', code: 'invalid' }] });
    });

    it('selection: an offered challenge alone is "Empty response"; a foreign one is refused', async () => {
      const u = await totpUser('rae');
      const { b } = await atValidation('rae');
      const sel = await b.solve(FLOW, {
        component: 'ak-stage-authenticator-validate',
        selected_challenge: { device_class: 'totp', device_uid: String(u.device), challenge: {} },
      });
      assert.deepEqual(sel.response_errors, { non_field_errors: [{ string: 'Empty response', code: 'invalid' }] });
      const bad = await b.solve(FLOW, {
        component: 'ak-stage-authenticator-validate',
        selected_challenge: { device_class: 'webauthn', device_uid: 'quox', challenge: {} },
      });
      assert.deepEqual(bad.response_errors, { selected_challenge: [{ string: 'invalid challenge selected', code: 'invalid' }] });
    });
  });

  describe(`executor: WebAuthn relying party from KEYSTAGE_EXTERNAL_URL (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      // no trusted proxy: X-Forwarded-Host is ignored; the Host header is whatever the client says
      srv = await startServer(dialect, { secretKey: SECRET, externalUrl: new URL('http://localhost:9000/') });
    });
    after(async () => srv.close());

    it('the challenge names the configured host whatever Host/X-Forwarded-Host say, and assertions are checked against it', async () => {
      const id = await createUser(srv, 'ext', 'ext-password-1');
      const now = new Date().toISOString();
      await srv.app.store.db
        .insertInto('webauthn_devices')
        .values({
          user_id: id,
          name: 'key',
          confirmed: 1,
          created: now,
          last_updated: now,
          last_used: null,
          credential_id: VECTOR.credentialId,
          public_key: VECTOR.publicKey,
          sign_count: 0,
          rp_id: 'localhost',
          aaguid: '00000000-0000-0000-0000-000000000000',
          transports: '[]',
        } as never)
        .execute();
      const b = new BrowserSession(srv, { 'x-forwarded-host': 'evil.test', 'x-forwarded-proto': 'https' });
      await b.get(FLOW);
      await b.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'ext' });
      const ch = await b.solve(FLOW, { component: 'ak-stage-password', password: 'ext-password-1' });
      assert.equal(ch.device_challenges[0].challenge.rpId, 'localhost');
      const key = sessionKeyOf(b.cookies.get('authentik_session')!);
      const row = await srv.app.store.db.selectFrom('sessions').select('data').where('session_key', '=', key).executeTakeFirstOrThrow();
      const data = JSON.parse(row.data);
      // the current stage's own state (StageCall.state), where its last render kept its challenge
      const stage = data.plan.bindings[0].stage_uuid;
      data.plan.context.stages[stage].webauthnChallenge = VECTOR.challenge;
      await srv.app.store.db
        .updateTable('sessions')
        .set({ data: JSON.stringify(data) })
        .where('session_key', '=', key)
        .execute();
      // signed for origin http://localhost:9000, sent to 127.0.0.1: the configured origin is what counts
      const done = await b.solve(FLOW, { component: 'ak-stage-authenticator-validate', webauthn: VECTOR.assertion });
      assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
    });
  });
}

for (const dialect of dialects()) {
  describe(`executor: WebAuthn relying party without KEYSTAGE_EXTERNAL_URL nor a trusted proxy (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect, { secretKey: SECRET });
    });
    after(async () => srv.close());

    it('X-Forwarded-Host from an untrusted client is ignored: the challenge names the host the request was sent to', async () => {
      const id = await createUser(srv, 'untrusted', 'untrusted-password-1');
      const now = new Date().toISOString();
      await srv.app.store.db
        .insertInto('webauthn_devices')
        .values({
          user_id: id,
          name: 'key',
          confirmed: 1,
          created: now,
          last_updated: now,
          last_used: null,
          credential_id: VECTOR.credentialId,
          public_key: VECTOR.publicKey,
          sign_count: 0,
          rp_id: 'localhost',
          aaguid: '00000000-0000-0000-0000-000000000000',
          transports: '[]',
        } as never)
        .execute();
      const b = new BrowserSession(srv, { 'x-forwarded-host': 'evil.test', 'x-forwarded-proto': 'https' });
      await b.get(FLOW);
      await b.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'untrusted' });
      const ch = await b.solve(FLOW, { component: 'ak-stage-password', password: 'untrusted-password-1' });
      assert.equal(ch.component, 'ak-stage-authenticator-validate');
      assert.equal(ch.device_challenges[0].challenge.rpId, '127.0.0.1');
    });
  });
}
