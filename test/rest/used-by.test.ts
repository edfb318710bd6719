/** used_by lists a stage's own many-to-many links (configuration stages, WebAuthn device types) as cascade_many, and only what the caller may view. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { callAs, createUser, tokenFor } from '../groups/setup.js';

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

    it('lists only what the caller may view (authentik’s UsedByMixin: get_objects_for_user)', async () => {
      const kp = await call(srv, 'POST', '/crypto/certificatekeypairs/generate/', { common_name: 'ub-signer', validity_days: 30 });
      assert.equal(kp.status, 200, JSON.stringify(kp.body));
      const flows = (await call(srv, 'GET', '/flows/instances/?page_size=100')).body.results as { slug: string; pk: string }[];
      const flow = (slug: string) => flows.find((f) => f.slug === slug)!.pk;
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'ub-signed',
        authorization_flow: flow('default-provider-authorization-implicit-consent'),
        invalidation_flow: flow('default-provider-invalidation-flow'),
        signing_key: kp.body.pk,
        redirect_uris: [],
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      const viewer = await createUser(srv, 'ub-viewer');
      const token = await tokenFor(srv, viewer, 'ub-viewer-key-0123456789abcdefghijklmnop');
      const role = (await call(srv, 'POST', '/rbac/roles/', { name: 'ub-key-viewers' })).body.pk;
      const grant = (permissions: string[]) => call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${role}/assign/`, { permissions });
      assert.equal((await grant(['authentik_crypto.view_certificatekeypair'])).status, 200);
      assert.equal((await call(srv, 'POST', `/rbac/roles/${role}/add_user/`, { pk: viewer })).status, 204);
      const usedBy = async () => (await callAs(srv, token, 'GET', `/crypto/certificatekeypairs/${kp.body.pk}/used_by/`)).body;
      const names = (entries: { name: string }[]) => entries.map((e) => e.name);
      assert.ok(names((await call(srv, 'GET', `/crypto/certificatekeypairs/${kp.body.pk}/used_by/`)).body).includes('ub-signed'));
      assert.deepEqual(names(await usedBy()), [], 'the provider is not hers to see');
      assert.equal((await grant(['authentik_providers_oauth2.view_oauth2provider'])).status, 200);
      assert.ok(names(await usedBy()).includes('ub-signed'));
    });
  });
}
