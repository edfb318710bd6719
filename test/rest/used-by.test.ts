/** used_by lists a stage's own many-to-many links (configuration stages, WebAuthn device types) as cascade_many. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';

const YUBIKEY_5 = 'cb69481e-8ff7-4039-93ec-0a2729a154a8';

for (const dialect of dialects()) {
  describe(`used_by: forward many-to-many links (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv.close());

    it('a validation stage lists its configuration stages and allowed device types; the setup stage its restrictions', async () => {
      const totp = await call(srv, 'POST', '/stages/authenticator/totp/', { name: 'ub-totp', digits: 6 });
      const webauthn = await call(srv, 'POST', '/stages/authenticator/webauthn/', {
        name: 'ub-webauthn',
        device_type_restrictions: [YUBIKEY_5],
      });
      assert.equal(webauthn.status, 201, JSON.stringify(webauthn.body));
      const validate = await call(srv, 'POST', '/stages/authenticator/validate/', {
        name: 'ub-validate',
        not_configured_action: 'configure',
        configuration_stages: [totp.body.pk],
        webauthn_allowed_device_types: [YUBIKEY_5],
      });
      assert.equal(validate.status, 201, JSON.stringify(validate.body));
      const device = {
        app: 'authentik_stages_authenticator_webauthn',
        model_name: 'webauthndevicetype',
        pk: YUBIKEY_5,
        name: `WebAuthn device type YubiKey 5 Series (${YUBIKEY_5})`,
        action: 'cascade_many',
      };
      const used = await call(srv, 'GET', `/stages/authenticator/validate/${validate.body.pk}/used_by/`);
      assert.equal(used.status, 200);
      assert.deepEqual(used.body, [
        { app: 'authentik_flows', model_name: 'stage', pk: totp.body.pk, name: 'Stage ub-totp', action: 'cascade_many' },
        device,
      ]);
      const viaAll = await call(srv, 'GET', `/stages/all/${validate.body.pk}/used_by/`);
      assert.deepEqual(viaAll.body, used.body, '/stages/all/ says the same');
      assert.deepEqual((await call(srv, 'GET', `/stages/authenticator/webauthn/${webauthn.body.pk}/used_by/`)).body, [device]);
      assert.deepEqual(
        (await call(srv, 'GET', `/stages/authenticator/totp/${totp.body.pk}/used_by/`)).body,
        [],
        'the reverse side lists nothing',
      );
    });
  });
}
