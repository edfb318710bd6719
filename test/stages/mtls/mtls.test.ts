/**
 * The mutual TLS stage (authentik's enterprise `authentik_stages_mtls`; its tests' scenarios): the API through the
 * official client, and through the executor the certificate forwarded by a trusted proxy in each header format
 * authentik reads (Envoy/authentik router XFCC, nginx, Traefik), refused from any other peer; certificates of another
 * authority, for another purpose or of nobody; `optional` and `required`; the brand's authorities as fallback; an
 * enrollment flow filling the prompt data; a certificate of someone other than the user an earlier stage chose. The
 * TLS listener's own handshake is in tls-listener.test.ts.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { Browser } from '../../helpers/browser.js';
import { assertMatches } from '../../helpers/openapi-schema.js';
import { createStage, createUser, flowOf } from '../../helpers/flows.js';
import { body, clients, failure } from '../../rest/contract/client.js';
import { fixture, importCa } from '../../helpers/certificates.js';

/** Python's quote_plus, as authentik's tests write the headers */
const quotePlus = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
/** Traefik's form: the DER in base64 without PEM lines, URL-encoded */
const traefikForm = (pem: string) => encodeURIComponent(new X509Certificate(pem).raw.toString('base64'));

for (const dialect of dialects()) {
  describe(`mutual TLS stage (${dialect})`, () => {
    let srv: TestServer;
    let ca: string;
    let stage: string;
    const client = fixture('client.pem');
    // the flow's first request through a proxy that forwards the client certificate in `header`
    const open = (slug: string, headers: Record<string, string> = {}) => new Browser(srv.api, { headers }).get(slug);

    before(async () => {
      // the test client plays the reverse proxy: loopback is trusted
      srv = await startServer(dialect, { trustedProxies: '127.0.0.1' });
      ca = await importCa(srv, 'test-ca', fixture('ca.pem'));
      await createUser(srv, 'client', 'unused-password-1', { email: 'client@example.test' });
      stage = await createStage(srv, '/stages/mtls/', {
        name: 'mtls-required',
        mode: 'required',
        certificate_authorities: [ca],
        cert_attribute: 'common_name',
        user_attribute: 'username',
      });
      const login = await createStage(srv, '/stages/user_login/', { name: 'mtls-login' });
      await flowOf(srv, 'mtls', [stage, login]);
    });
    after(async () => srv.close());

    it('API: create, read, filter, update through the official client; a mode or attribute outside the choices is a 400', async () => {
      const api = clients(srv).stages;
      const created = await body(
        api.stagesMtlsCreateRaw({
          mutualTLSStageRequest: {
            name: 'api-mtls',
            mode: 'optional',
            certificateAuthorities: [ca],
            certAttribute: 'email',
            userAttribute: 'email',
          },
        }),
      );
      assertMatches('MutualTLSStage', created);
      assert.deepEqual(
        [created.mode, created.certificate_authorities, created.cert_attribute, created.user_attribute, created.component],
        ['optional', [ca], 'email', 'email', 'ak-stage-mtls-form'],
      );
      const listed = await body(api.stagesMtlsListRaw({ mode: 'optional', certificateAuthorities: [ca] }));
      assertMatches('PaginatedMutualTLSStageList', listed);
      assert.deepEqual(
        listed.results.map((s: { name: string }) => s.name),
        ['api-mtls'],
      );
      const patched = await call(srv, 'PATCH', `/stages/mtls/${created.pk}/`, { certificate_authorities: [], cert_attribute: 'subject' });
      assert.equal(patched.status, 200);
      assert.deepEqual([patched.body.certificate_authorities, patched.body.cert_attribute], [[], 'subject']);
      const bad = await failure(
        api.stagesMtlsCreateRaw({
          mutualTLSStageRequest: { name: 'bad', mode: 'sometimes' as never, certAttribute: 'serial' as never, userAttribute: 'email' },
        }),
      );
      assert.equal(bad.status, 400);
      assert.ok(bad.body.mode && bad.body.cert_attribute, JSON.stringify(bad.body));
      assert.equal((await call(srv, 'GET', '/stages/mtls/?name=bad')).body.results.length, 0);
      // listed among the stage types, as authentik's
      const types = await call(srv, 'GET', '/stages/all/types/');
      assert.ok(types.body.some((t: { model_name: string }) => t.model_name === 'mutualtlsstage'));
    });

    for (const [format, headers] of [
      ['Envoy / authentik router (X-Forwarded-Client-Cert)', () => ({ 'X-Forwarded-Client-Cert': `Hash=abc;Cert=${quotePlus(client)}` })],
      ['nginx (SSL-Client-Cert)', () => ({ 'SSL-Client-Cert': quotePlus(client) })],
      ['Traefik, PEM (X-Forwarded-TLS-Client-Cert)', () => ({ 'X-Forwarded-TLS-Client-Cert': quotePlus(client) })],
      ['Traefik, base64 DER (X-Forwarded-TLS-Client-Cert)', () => ({ 'X-Forwarded-TLS-Client-Cert': traefikForm(client) })],
    ] as const)
      it(`${format} from a trusted proxy: the certificate's owner is logged in, auth method mtls`, async () => {
        const b = new Browser(srv.api, { headers: headers() });
        const r = await b.get('mtls');
        assert.equal(r.body.component, 'xak-flow-redirect', JSON.stringify(r.body));
        const me = await b.me();
        assert.equal(me.body.user.username, 'client');
        const events = await call(srv, 'GET', '/events/events/?action=login&username=client&ordering=-created&page_size=1');
        const args = events.body.results[0].context.auth_method_args;
        assert.equal(events.body.results[0].context.auth_method, 'mtls');
        const cert = new X509Certificate(client);
        assert.deepEqual(args.certificate, {
          serial_number: BigInt(`0x${cert.serialNumber}`).toString(),
          subject: '1.2.840.113549.1.9.1=client@example.test,CN=client',
          issuer: 'OU=Tests,O=Keystage,CN=Keystage Test CA',
          fingerprint_sha256: cert.fingerprint256.toLowerCase(),
          fingerprint_sha1: cert.fingerprint.toLowerCase(),
        });
      });

    it('refused: another authority, a certificate not for client authentication, no certificate, garbage', async () => {
      for (const headers of [
        { 'SSL-Client-Cert': quotePlus(fixture('client-elsewhere.pem')) },
        { 'SSL-Client-Cert': quotePlus(fixture('server-only.pem')) },
        // the authority itself is not a client certificate
        { 'SSL-Client-Cert': quotePlus(fixture('ca.pem')) },
        { 'SSL-Client-Cert': 'not-a-certificate' },
        {},
      ] as Record<string, string>[]) {
        const b = new Browser(srv.api, { headers });
        const r = await b.get('mtls');
        assert.equal(r.body.component, 'ak-stage-access-denied', JSON.stringify(headers));
        assert.equal(r.body.error_message, 'Certificate required but no certificate was given.');
        assert.equal((await b.me()).status, 403);
      }
    });

    it('a certificate whose attribute names nobody is refused ("No user found for certificate.")', async () => {
      const byEmail = await createStage(srv, '/stages/mtls/', {
        name: 'mtls-by-email',
        mode: 'required',
        certificate_authorities: [ca],
        cert_attribute: 'email',
        user_attribute: 'username',
      });
      await flowOf(srv, 'mtls-nobody', [byEmail]);
      const r = await open('mtls-nobody', { 'SSL-Client-Cert': quotePlus(client) });
      assert.equal(r.body.component, 'ak-stage-access-denied');
      assert.equal(r.body.error_message, 'No user found for certificate.');
    });

    it('from a peer that is not a trusted proxy the headers count for nothing', async () => {
      const other = await startServer(dialect);
      try {
        const otherCa = await importCa(other, 'test-ca', fixture('ca.pem'));
        const s = await createStage(other, '/stages/mtls/', {
          name: 'm',
          mode: 'required',
          certificate_authorities: [otherCa],
          cert_attribute: 'common_name',
          user_attribute: 'username',
        });
        await createUser(other, 'client', 'unused-password-1');
        await flowOf(other, 'mtls', [s]);
        const r = await new Browser(other.api, { headers: { 'SSL-Client-Cert': quotePlus(client) } }).get('mtls');
        assert.equal(r.body.error_message, 'Certificate required but no certificate was given.');
      } finally {
        await other.close();
      }
    });

    it('optional: without a certificate the flow goes on; without any authority, optional passes and required denies', async () => {
      const optional = await createStage(srv, '/stages/mtls/', {
        name: 'mtls-optional',
        mode: 'optional',
        certificate_authorities: [ca],
        cert_attribute: 'common_name',
        user_attribute: 'username',
      });
      const deny = await createStage(srv, '/stages/deny/', { name: 'after-mtls', deny_message: 'reached the next stage' });
      await flowOf(srv, 'mtls-optional', [optional, deny]);
      assert.equal((await open('mtls-optional')).body.error_message, 'reached the next stage');
      const noCaOptional = await createStage(srv, '/stages/mtls/', {
        name: 'no-ca-optional',
        mode: 'optional',
        cert_attribute: 'common_name',
        user_attribute: 'username',
      });
      const noCaRequired = await createStage(srv, '/stages/mtls/', {
        name: 'no-ca-required',
        mode: 'required',
        cert_attribute: 'common_name',
        user_attribute: 'username',
      });
      await flowOf(srv, 'no-ca-optional', [noCaOptional, deny]);
      await flowOf(srv, 'no-ca-required', [noCaRequired, deny]);
      const passes = await open('no-ca-optional', { 'SSL-Client-Cert': quotePlus(client) });
      assert.equal(passes.body.error_message, 'reached the next stage');
      const denied = await open('no-ca-required', { 'SSL-Client-Cert': quotePlus(client) });
      assert.equal(denied.body.component, 'ak-stage-access-denied');
      assert.notEqual(denied.body.error_message, 'reached the next stage');
    });

    it("the brand's client certificates are the authorities of a stage that has none", async () => {
      const s = await createStage(srv, '/stages/mtls/', {
        name: 'mtls-brand',
        mode: 'required',
        cert_attribute: 'common_name',
        user_attribute: 'username',
      });
      const login = await createStage(srv, '/stages/user_login/', { name: 'mtls-brand-login' });
      await flowOf(srv, 'mtls-brand', [s, login]);
      const headers = { 'SSL-Client-Cert': quotePlus(client) };
      assert.equal((await open('mtls-brand', headers)).body.component, 'ak-stage-access-denied');
      const brands = await call(srv, 'GET', '/core/brands/?default=true');
      const brand = brands.body.results[0].brand_uuid;
      assert.equal((await call(srv, 'PATCH', `/core/brands/${brand}/`, { client_certificates: [ca] })).status, 200);
      try {
        const b = new Browser(srv.api, { headers });
        assert.equal((await b.get('mtls-brand')).body.component, 'xak-flow-redirect');
        assert.equal((await b.me()).body.user.username, 'client');
      } finally {
        await call(srv, 'PATCH', `/core/brands/${brand}/`, { client_certificates: [] });
      }
    });

    it('enrollment: the certificate fills the prompt data a user write stage creates the account from', async () => {
      const s = await createStage(srv, '/stages/mtls/', {
        name: 'mtls-enroll',
        mode: 'required',
        certificate_authorities: [ca],
        cert_attribute: 'common_name',
        user_attribute: 'username',
      });
      const field = await call(srv, 'POST', '/stages/prompt/prompts/', {
        name: 'mtls-username',
        field_key: 'username',
        label: 'Username',
        type: 'text',
        required: true,
        placeholder: '',
        order: 0,
      });
      assert.equal(field.status, 201, JSON.stringify(field.body));
      const prompt = await createStage(srv, '/stages/prompt/stages/', { name: 'mtls-ask', fields: [field.body.pk] });
      const write = await createStage(srv, '/stages/user_write/', { name: 'mtls-write', user_creation_mode: 'always_create' });
      await flowOf(srv, 'mtls-enroll', [s, prompt, write], { designation: 'enrollment' });
      const b = new Browser(srv.api, { headers: { 'SSL-Client-Cert': quotePlus(client) } });
      const asked = await b.get('mtls-enroll');
      assert.equal(asked.body.component, 'ak-stage-prompt');
      const done = await b.solve('mtls-enroll', { component: 'ak-stage-prompt', username: 'enrolled-by-cert' } as never);
      assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      const user = (await call(srv, 'GET', '/core/users/?username=enrolled-by-cert')).body.results[0];
      assert.deepEqual([user.email, user.name], ['client@example.test', 'client']);
    });

    it('a certificate of someone other than the user an earlier stage chose is refused (authentik would switch users)', async () => {
      await createUser(srv, 'alice', 'alice-password-1');
      const ident = await createStage(srv, '/stages/identification/', { name: 'mtls-ident', user_fields: ['username'] });
      const login = await createStage(srv, '/stages/user_login/', { name: 'mtls-second-login' });
      await flowOf(srv, 'mtls-second', [ident, stage, login]);
      const b = new Browser(srv.api, { headers: { 'SSL-Client-Cert': quotePlus(client) } });
      await b.get('mtls-second');
      const asAlice = await b.solve('mtls-second', { component: 'ak-stage-identification', uidField: 'alice' } as never);
      assert.equal(asAlice.body.component, 'ak-stage-access-denied');
      assert.equal(asAlice.body.error_message, 'No user found for certificate.');
      assert.equal((await b.me()).status, 403);
      // the certificate's own user gets through the same flow
      const c = new Browser(srv.api, { headers: { 'SSL-Client-Cert': quotePlus(client) } });
      await c.get('mtls-second');
      const asClient = await c.solve('mtls-second', { component: 'ak-stage-identification', uidField: 'client' } as never);
      assert.equal(asClient.body.component, 'xak-flow-redirect');
      assert.equal((await c.me()).body.user.username, 'client');
    });

    it('an authority lists its stages and brands in used_by; deleting it takes it out of them', async () => {
      const other = await importCa(srv, 'short-lived-ca', fixture('other-ca.pem'));
      const s = await createStage(srv, '/stages/mtls/', {
        name: 'mtls-two-cas',
        mode: 'required',
        certificate_authorities: [ca, other],
        cert_attribute: 'common_name',
        user_attribute: 'username',
      });
      const brand = (await call(srv, 'GET', '/core/brands/?default=true')).body.results[0].brand_uuid;
      assert.equal((await call(srv, 'PATCH', `/core/brands/${brand}/`, { client_certificates: [other] })).status, 200);
      const usedBy = await call(srv, 'GET', `/crypto/certificatekeypairs/${other}/used_by/`);
      assert.equal(usedBy.status, 200);
      assert.deepEqual(usedBy.body.map((u: Record<string, string>) => [u.app, u.model_name, u.name, u.action]).sort(), [
        ['authentik_brands', 'brand', 'authentik-default', 'cascade_many'],
        ['authentik_stages_mtls', 'mutualtlsstage', 'mtls-two-cas', 'cascade_many'],
      ]);
      assert.equal((await call(srv, 'DELETE', `/crypto/certificatekeypairs/${other}/`)).status, 204);
      assert.deepEqual((await call(srv, 'GET', `/core/brands/${brand}/`)).body.client_certificates, []);
      assert.deepEqual((await call(srv, 'GET', `/stages/mtls/${s}/`)).body.certificate_authorities, [ca]);
    });
  });
}
