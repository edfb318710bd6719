/**
 * POST /providers/saml/import_metadata/ with the official client, on SQLite and PostgreSQL: a provider made from
 * metadata that @node-saml/node-saml generates for its service provider (signed requests, an encryption certificate,
 * a logout URL), which then signs that service provider in end to end; refusals (not XML, a DTD, no POST ACS, missing
 * fields, no permission) answer 400/403 and write nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { ProvidersApi } from '@goauthentik/api/dist/apis/ProvidersApi.js';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { createUser } from '../../helpers/flows.js';
import { assertMatches } from '../../helpers/openapi-schema.js';
import { PASSWORD } from '../oauth2/browser.js';
import { ACS, SP_ENTITY, SamlBrowser, serviceProvider } from './sp.js';

const EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

for (const dialect of dialects()) {
  describe(`SAML provider import_metadata (${dialect})`, () => {
    let srv: TestServer;
    let flows: Record<string, string>;
    let sp: { pk: string; cert: string; key: string };
    let api: ProvidersApi;

    const upload = (fields: Record<string, string | Blob>, token = srv.token) => {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      return fetch(`${srv.api}/providers/saml/import_metadata/`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: form,
      });
    };
    const count = async () => (await srv.app.store.db.selectFrom('providers').select('id').execute()).length;

    before(async () => {
      srv = await startServer(dialect);
      api = new ProvidersApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      const f = await call(srv, 'GET', '/flows/instances/?page_size=100');
      flows = Object.fromEntries(f.body.results.map((x: { slug: string; pk: string }) => [x.slug, x.pk]));
      const kp = await call(srv, 'POST', '/crypto/certificatekeypairs/generate/', { common_name: 'sp', validity_days: 30, alg: 'rsa' });
      sp = {
        pk: kp.body.pk,
        cert: (await call(srv, 'GET', `/crypto/certificatekeypairs/${kp.body.pk}/view_certificate/`)).body.data,
        key: (await call(srv, 'GET', `/crypto/certificatekeypairs/${kp.body.pk}/view_private_key/`)).body.data,
      };
      await createUser(srv, 'alice', PASSWORD);
    });
    after(async () => srv.close());

    it("a provider from a service provider's metadata, which then signs it in", async () => {
      const metadataOf = serviceProvider({
        idpCert: sp.cert,
        entryPoint: 'http://127.0.0.1:9/unused',
        privateKey: sp.key,
        decryptionPvk: sp.key,
        identifierFormat: EMAIL,
        logoutCallbackUrl: 'http://127.0.0.1:9/saml/sls',
      });
      const xml = metadataOf.generateServiceProviderMetadata(sp.cert, sp.cert);
      const created = await api.providersSamlImportMetadataCreateRaw({
        name: 'imported',
        authorizationFlow: flows['default-provider-authorization-implicit-consent']!,
        invalidationFlow: flows['default-provider-invalidation-flow']!,
        file: new Blob([xml], { type: 'application/xml' }),
      });
      assert.equal(created.raw.status, 201);
      const p = await created.raw.json();
      assertMatches('SAMLProvider', p);
      assert.equal(p.acs_url, ACS);
      assert.equal(p.sp_binding, 'post');
      assert.equal(p.audience, SP_ENTITY);
      assert.equal(p.default_name_id_policy, EMAIL);
      assert.equal(p.sls_url, 'http://127.0.0.1:9/saml/sls');
      assert.equal(p.property_mappings.length, 7);
      // the SP signs its requests: its certificate (no private key) verifies them; it wants signed assertions
      const verification = await call(srv, 'GET', `/crypto/certificatekeypairs/${p.verification_kp}/`);
      assert.equal(verification.body.name, 'Provider imported - SAML Signing Certificate');
      assert.equal(verification.body.private_key_available, false);
      const encryption = await call(srv, 'GET', `/crypto/certificatekeypairs/${p.encryption_kp}/`);
      assert.equal(encryption.body.name, 'Provider imported - SAML Encryption Certificate');
      const signing = await call(srv, 'GET', `/crypto/certificatekeypairs/${p.signing_kp}/`);
      assert.equal(signing.body.private_key_available, true);
      const idpCert = (await call(srv, 'GET', `/crypto/certificatekeypairs/${p.signing_kp}/view_certificate/`)).body.data;
      // end to end with the imported provider
      assert.equal((await call(srv, 'POST', '/core/applications/', { name: 'Imported', slug: 'imported', provider: p.pk })).status, 201);
      const url = (await call(srv, 'GET', `/providers/saml/${p.pk}/`)).body.url_sso_redirect;
      const saml = serviceProvider({
        idpCert,
        entryPoint: url,
        privateKey: sp.key,
        signatureAlgorithm: 'sha256',
        decryptionPvk: sp.key,
        identifierFormat: EMAIL,
      });
      const b = new SamlBrowser(srv);
      await b.login('alice', '');
      const r = await b.send(await saml.getAuthorizeUrlAsync('', undefined, {}));
      assert.equal(r.status, 200, r.text);
      const { profile } = await saml.validatePostResponseAsync(r.form!.fields);
      assert.equal(profile!.nameID, 'alice@example.com');
      assert.equal(profile!['http://schemas.goauthentik.io/2021/02/saml/username'], 'alice');
    });

    it('refusals answer 400 or 403 and write nothing', async () => {
      const before = await count();
      const base = {
        name: 'bad',
        authorization_flow: flows['default-provider-authorization-implicit-consent']!,
        invalidation_flow: flows['default-provider-invalidation-flow']!,
      };
      let r = await upload({ ...base, file: new Blob(['not xml']) });
      assert.deepEqual([r.status, await r.json()], [400, ['Invalid XML Syntax']]);
      r = await upload({ ...base, file: new Blob(['<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>']) });
      assert.deepEqual([r.status, await r.json()], [400, ['Invalid XML Syntax']]);
      const redirectOnly =
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="sp"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">' +
        '<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="http://127.0.0.1:9/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>';
      r = await upload({ ...base, file: new Blob([redirectOnly]) });
      assert.deepEqual(
        [r.status, await r.json()],
        [400, ['Failed to import Metadata: The service provider has no AssertionConsumerService with the HTTP-POST binding.']],
      );
      r = await upload({ name: '', authorization_flow: flows['default-authentication-flow']!, file: new Blob(['x']) });
      assert.equal(r.status, 400);
      assert.deepEqual(await r.json(), {
        name: ['This field may not be blank.'],
        authorization_flow: [`Invalid pk "${flows['default-authentication-flow']}" - object does not exist.`],
        invalidation_flow: ['This field is required.'],
      });
      // someone without the permissions
      const u = await createUser(srv, 'bob', PASSWORD);
      const token = await call(srv, 'POST', '/core/tokens/', { identifier: 'bob-api', intent: 'api', user: u });
      const key = (await call(srv, 'GET', `/core/tokens/${token.body.identifier}/view_key/`)).body.key;
      r = await upload({ ...base, file: new Blob(['x']) }, key);
      assert.equal(r.status, 403);
      assert.equal(await count(), before);
    });

    it('one metadata imported twice at once under one name (a double submit): one provider, the other 400', async () => {
      const metadataOf = serviceProvider({
        idpCert: sp.cert,
        entryPoint: 'http://127.0.0.1:9/unused',
        privateKey: sp.key,
        decryptionPvk: sp.key,
      });
      const xml = metadataOf.generateServiceProviderMetadata(sp.cert, sp.cert);
      for (let round = 0; round < 4; round++) {
        const before = await count();
        const fields = {
          name: `twice-${round}`,
          authorization_flow: flows['default-provider-authorization-implicit-consent']!,
          invalidation_flow: flows['default-provider-invalidation-flow']!,
          file: new Blob([xml], { type: 'application/xml' }),
        };
        const answers = await Promise.all([upload(fields), upload(fields)]);
        const bodies = await Promise.all(answers.map((a) => a.json()));
        assert.deepEqual(answers.map((a) => a.status).sort(), [201, 400], JSON.stringify(bodies));
        assert.match(
          String(bodies[answers.findIndex((a) => a.status === 400)].name?.[0]),
          /exists already|already exists/,
          JSON.stringify(bodies),
        );
        assert.equal(await count(), before + 1);
      }
    });
  });
}
