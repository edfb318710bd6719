/**
 * The SAML provider's single sign-on end to end, with @node-saml/node-saml as the service provider, on SQLite and
 * PostgreSQL: SP-initiated logins by the redirect and POST bindings (signed and unsigned requests, the login first
 * when nobody is logged in), IdP-initiated logins with the default relay state, answers by the POST and redirect SP
 * bindings, signed assertions and responses, encrypted assertions, NameID formats and mappings, attributes from
 * authentik's managed mappings and a Python one, the application's policies, and the refusals authentik gives.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { SignedXml } from 'xml-crypto';
import { DOMParser } from '@xmldom/xmldom';
import fc from 'fast-check';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { createUser } from '../../helpers/flows.js';
import { CookieJar } from '../../helpers/cookie-jar.js';
import { PASSWORD } from '../oauth2/browser.js';
import { ACS, SP_ENTITY, SamlBrowser, flowsAndMappings, keyPairOf, loggedInAs, samlApp, formOf, inflated, serviceProvider } from './sp.js';
import { uidOf } from '../../../src/users/render.js';
import { deflateRawSync } from 'node:zlib';

const NAME_ID = {
  email: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
};
const CLAIM = {
  email: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
  username: 'http://schemas.goauthentik.io/2021/02/saml/username',
  groups: 'http://schemas.xmlsoap.org/claims/Group',
  uid: 'http://schemas.goauthentik.io/2021/02/saml/uid',
};

for (const dialect of dialects()) {
  describe(`SAML provider single sign-on (${dialect})`, () => {
    let srv: TestServer;
    let flows: Record<string, string>;
    let managed: Record<string, string>;
    let idp: { pk: string; cert: string };
    let sp: { pk: string; cert: string; key: string };
    let aliceId: number;

    const keyPair = (name: string) => keyPairOf(srv, name);

    /** an application with a SAML provider: its provider as the API answers it */
    const app = (slug: string, extra: Record<string, unknown> = {}) =>
      samlApp(srv, slug, {
        authorization_flow: flows['default-provider-authorization-implicit-consent'],
        invalidation_flow: flows['default-provider-invalidation-flow'],
        acs_url: ACS,
        audience: SP_ENTITY,
        sp_binding: 'post',
        signing_kp: idp.pk,
        property_mappings: [managed.email, managed.username, managed.groups, managed.uid],
        ...extra,
      });

    const loggedIn = () => loggedInAs(srv, 'alice');

    before(async () => {
      srv = await startServer(dialect);
      ({ flows, managed } = await flowsAndMappings(srv));
      idp = await keyPair('idp');
      sp = await keyPair('sp');
      aliceId = await createUser(srv, 'alice', PASSWORD, { attributes: { upn: 'alice@corp.example' } });
      const g = await call(srv, 'POST', '/core/groups/', { name: 'saml-users', users: [aliceId] });
      assert.equal(g.status, 201, JSON.stringify(g.body));
    });
    after(async () => srv.close());

    it("authentik's seven managed SAML mappings exist from the first start", async () => {
      assert.deepEqual(Object.keys(managed).sort(), ['email', 'groups', 'ms-windowsaccountname', 'name', 'uid', 'upn', 'username']);
      const r = await call(srv, 'GET', `/propertymappings/provider/saml/${managed.email}/`);
      assert.equal(r.body.saml_name, CLAIM.email);
      assert.equal(r.body.name, 'authentik default SAML Mapping: Email');
      assert.equal(r.body.meta_model_name, 'authentik_providers_saml.samlpropertymapping');
    });

    it('SP-initiated by the redirect binding: the login first, then a signed assertion posted to the ACS', async () => {
      const p = await app('redirect-post');
      assert.equal(p.url_sso_redirect, `${srv.url}/application/saml/redirect-post/sso/binding/redirect/`);
      assert.equal(p.url_issuer, `${srv.url}/application/saml/redirect-post/metadata/`);
      const saml = serviceProvider({ idpCert: idp.cert, entryPoint: p.url_sso_redirect, validateInResponseTo: 'always' as never });
      const url = await saml.getAuthorizeUrlAsync('relay-1', undefined, {});
      const b = new SamlBrowser(srv);
      // nobody logged in: to the login, back to this request after
      const first = await fetch(url, { redirect: 'manual' });
      assert.equal(first.status, 302);
      const loc = new URL(first.headers.get('location')!, srv.url);
      assert.equal(loc.pathname, '/if/flow/default-authentication-flow/');
      const next = loc.searchParams.get('next')!;
      // the login says which application it is for
      const jar = new CookieJar();
      jar.keep(first);
      const login = await jar.json(
        `${srv.api}/flows/executor/default-authentication-flow/?query=${encodeURIComponent(loc.search.slice(1))}`,
      );
      assert.equal(login.body.application_pre, 'SAML redirect-post');
      assert.ok(next.startsWith('/application/saml/redirect-post/sso/binding/redirect/?SAMLRequest='));
      const answer = await b.loginAndContinue('alice', next);
      assert.equal(answer.status, 200);
      assert.equal(answer.form?.action, ACS);
      assert.equal(answer.form?.fields.RelayState, 'relay-1');
      const { profile } = await saml.validatePostResponseAsync(answer.form!.fields);
      assert.ok(profile);
      assert.equal(profile.issuer, p.url_issuer);
      assert.equal(profile.nameID, uidOf(aliceId, srv.app.services.installId));
      assert.equal(profile[CLAIM.email], 'alice@example.com');
      assert.equal(profile[CLAIM.username], 'alice');
      assert.equal(profile[CLAIM.groups], 'saml-users');
      assert.equal(profile[CLAIM.uid], String(aliceId));
      // the authorization is recorded as authentik records it
      const ev = await call(srv, 'GET', '/events/events/?action=authorize_application&username=alice');
      assert.ok(ev.body.results.some((e: any) => e.context.authorized_application?.name === 'SAML redirect-post'));
    });

    it('the POST binding with a signed request; the answer by the redirect binding, its assertion signed', async () => {
      const p = await app('post-redirect', { verification_kp: sp.pk, sp_binding: 'redirect' });
      const saml = serviceProvider({
        idpCert: idp.cert,
        entryPoint: p.url_sso_post,
        authnRequestBinding: 'HTTP-POST',
        privateKey: sp.key,
        publicCert: sp.cert,
        signatureAlgorithm: 'sha256',
      });
      const b = await loggedIn();
      // node-saml deflates POST-binding requests unless told not to: both are read
      const deflated = await saml.getAuthorizeMessageAsync('relay-2');
      const viaDeflated = await b.send(p.url_sso_post, deflated as Record<string, string>);
      assert.equal(viaDeflated.status, 302, viaDeflated.text);
      saml.options.skipRequestCompression = true;
      const message = await saml.getAuthorizeMessageAsync('relay-2');
      const request = message.SAMLRequest as string;
      // the signed request changed after signing (another ACS, another ID): the signature no longer holds
      const signedXml = Buffer.from(request, 'base64').toString('utf8');
      for (const tampered of [signedXml.replace(/ID="_/, 'ID="_x'), signedXml.replace(ACS, `${ACS}?evil`)]) {
        assert.notEqual(tampered, signedXml);
        const r = await b.send(p.url_sso_post, { SAMLRequest: Buffer.from(tampered).toString('base64') });
        assert.equal(r.status, 400);
        assert.match(r.text, /Failed to verify signature/);
      }
      // as a browser sends the SP's cross-site POST: without Keystage's (SameSite=Lax) cookie — posted again from Keystage
      const crossSite = await fetch(p.url_sso_post, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ SAMLRequest: request, RelayState: 'relay-2' }),
        redirect: 'manual',
      });
      assert.equal(crossSite.status, 200);
      const relay = formOf(await crossSite.text())!;
      assert.equal(relay.action, p.url_sso_post);
      assert.deepEqual(relay.fields, { SAMLRequest: request, ks_relayed: '1', RelayState: 'relay-2' });
      const answer = await b.send(relay.action, relay.fields);
      assert.equal(answer.status, 302, answer.text);
      assert.equal(`${answer.redirect!.origin}${answer.redirect!.pathname}`, ACS);
      assert.equal(answer.redirect!.searchParams.get('RelayState'), 'relay-2');
      const xml = inflated(answer.redirect!.searchParams.get('SAMLResponse')!);
      const doc = new DOMParser().parseFromString(xml, 'text/xml');
      const assertion = doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'Assertion')[0]!;
      const signature = assertion.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature')[0]!;
      const sx = new SignedXml({ publicCert: idp.cert, getCertFromKeyInfo: () => null });
      sx.loadSignature(signature as never);
      assert.equal(sx.checkSignature(xml), true);
      assert.equal(sx.getReferences()[0]!.uri, `#${assertion.getAttribute('ID')}`);
      assert.equal(sx.signatureAlgorithm, 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
      // the response answers the request
      const requestId = /ID="([^"]+)"/.exec(Buffer.from(request, 'base64').toString('utf8'))![1];
      assert.equal(doc.documentElement!.getAttribute('InResponseTo'), requestId);
    });

    it('a verification certificate makes signed requests a must, and a wrong signature a refusal', async () => {
      const p = await app('signed-only', { verification_kp: sp.pk });
      const b = await loggedIn();
      const unsigned = serviceProvider({ idpCert: idp.cert, entryPoint: p.url_sso_redirect });
      let r = await b.send(await unsigned.getAuthorizeUrlAsync('', undefined, {}));
      assert.equal(r.status, 400);
      assert.match(r.text, /Verification Certificate configured, but request is not signed\./);
      // signed with another key: the signature does not hold
      const other = await keyPair('other');
      const forged = serviceProvider({
        idpCert: idp.cert,
        entryPoint: p.url_sso_redirect,
        privateKey: other.key,
        signatureAlgorithm: 'sha256',
      });
      r = await b.send(await forged.getAuthorizeUrlAsync('x', undefined, {}));
      assert.equal(r.status, 400);
      assert.match(r.text, /Failed to verify signature/);
      // the right key: accepted
      const signed = serviceProvider({
        idpCert: idp.cert,
        entryPoint: p.url_sso_redirect,
        privateKey: sp.key,
        signatureAlgorithm: 'sha256',
      });
      r = await b.send(await signed.getAuthorizeUrlAsync('x', undefined, {}));
      assert.equal(r.status, 200, r.text);
      assert.ok((await signed.validatePostResponseAsync(r.form!.fields)).profile);
      // a signed request to a provider without a verification certificate is read without checking (authentik's
      // parsers: no verifier, nothing verified), as an unsigned one would be
      const plain = await app('no-verifier');
      const toPlain = serviceProvider({
        idpCert: idp.cert,
        entryPoint: plain.url_sso_redirect,
        privateKey: sp.key,
        signatureAlgorithm: 'sha256',
      });
      r = await b.send(await toPlain.getAuthorizeUrlAsync('', undefined, {}));
      assert.equal(r.status, 200, r.text);
      assert.ok((await toPlain.validatePostResponseAsync(r.form!.fields)).profile);
      // each refusal is a configuration error event naming the provider
      const ev = await call(srv, 'GET', '/events/events/?action=configuration_error&page_size=50');
      assert.ok(ev.body.results.some((e: any) => e.context.provider?.name === 'saml-signed-only' && /not signed/.test(e.context.message)));
    });

    it('IdP-initiated: the default relay state, the response and the assertion both signed', async () => {
      const p = await app('idp-init', { default_relay_state: 'https://sp.example/home', sign_response: true });
      assert.equal(p.url_sso_init, `${srv.url}/application/saml/idp-init/sso/binding/init/`);
      const appRow = await call(srv, 'GET', '/core/applications/idp-init/');
      assert.equal(appRow.body.launch_url, '/application/saml/idp-init/sso/binding/init/');
      const b = await loggedIn();
      for (const url of [p.url_sso_init, p.url_unified_init]) {
        const r = await b.send(url);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.form!.fields.RelayState, 'https://sp.example/home');
        const saml = serviceProvider({ idpCert: idp.cert, wantAuthnResponseSigned: true, entryPoint: p.url_sso_redirect });
        const { profile } = await saml.validatePostResponseAsync(r.form!.fields);
        assert.equal(profile![CLAIM.username], 'alice');
        const xml = Buffer.from(r.form!.fields.SAMLResponse!, 'base64').toString('utf8');
        assert.doesNotMatch(xml, /InResponseTo/);
      }
    });

    it('an encrypted assertion, opened by the SP with the encryption key pair', async () => {
      const p = await app('encrypted', { encryption_kp: sp.pk });
      const saml = serviceProvider({ idpCert: idp.cert, entryPoint: p.url_sso_redirect, decryptionPvk: sp.key });
      const b = await loggedIn();
      const r = await b.send(await saml.getAuthorizeUrlAsync('', undefined, {}));
      const xml = Buffer.from(r.form!.fields.SAMLResponse!, 'base64').toString('utf8');
      assert.match(xml, /<saml:EncryptedAssertion>/);
      assert.doesNotMatch(xml, /alice@example\.com/);
      const { profile } = await saml.validatePostResponseAsync(r.form!.fields);
      assert.equal(profile![CLAIM.email], 'alice@example.com');
    });

    it('NameID: the requested format, the default policy, and the NameID mapping over both', async () => {
      const p = await app('name-ids', { default_name_id_policy: NAME_ID.email });
      const b = await loggedIn();
      const nameIdOf = async (format: string | null) => {
        const saml = serviceProvider({ idpCert: idp.cert, entryPoint: p.url_sso_redirect, identifierFormat: format });
        const r = await b.send(await saml.getAuthorizeUrlAsync('', undefined, {}));
        const { profile } = await saml.validatePostResponseAsync(r.form!.fields);
        return { value: profile!.nameID, format: profile!.nameIDFormat };
      };
      assert.deepEqual(await nameIdOf(null), { value: 'alice@example.com', format: NAME_ID.email });
      assert.deepEqual(await nameIdOf(NAME_ID.persistent), {
        value: uidOf(aliceId, srv.app.services.installId),
        format: NAME_ID.persistent,
      });
      const transient = await nameIdOf(NAME_ID.transient);
      assert.match(transient.value, /^[0-9a-f]{64}$/);
      assert.notEqual(transient.value, uidOf(aliceId, srv.app.services.installId));
      // the session key's hash: another login gives another
      const other = await loggedIn();
      const saml = serviceProvider({ idpCert: idp.cert, entryPoint: p.url_sso_redirect, identifierFormat: NAME_ID.transient });
      const r = await other.send(await saml.getAuthorizeUrlAsync('', undefined, {}));
      assert.notEqual((await saml.validatePostResponseAsync(r.form!.fields)).profile!.nameID, transient.value);
      assert.equal((await call(srv, 'PATCH', `/providers/saml/${p.pk}/`, { name_id_mapping: managed.username })).status, 200);
      assert.deepEqual(await nameIdOf(NAME_ID.persistent), { value: 'alice', format: NAME_ID.persistent });
    });

    it('Python mappings: a list gives several values; a failing one is left out and recorded', async () => {
      const list = await call(srv, 'POST', '/propertymappings/provider/saml/', {
        name: 'saml roles',
        saml_name: 'roles',
        friendly_name: 'Roles',
        expression: 'return [request.user.username + "-admin", provider.name]',
      });
      assert.equal(list.status, 201, JSON.stringify(list.body));
      const broken = await call(srv, 'POST', '/propertymappings/provider/saml/', {
        name: 'saml broken',
        saml_name: 'broken',
        expression: 'raise ValueError("no such thing")',
      });
      assert.equal(broken.status, 201, JSON.stringify(broken.body));
      const p = await app('python', { property_mappings: [managed.email, list.body.pk, broken.body.pk] });
      const saml = serviceProvider({ idpCert: idp.cert, entryPoint: p.url_sso_redirect });
      const b = await loggedIn();
      const r = await b.send(await saml.getAuthorizeUrlAsync('', undefined, {}));
      const { profile } = await saml.validatePostResponseAsync(r.form!.fields);
      assert.deepEqual(profile!.roles, ['alice-admin', 'saml-python']);
      assert.equal(profile!.broken, undefined);
      assert.equal(profile![CLAIM.email], 'alice@example.com');
      const xml = Buffer.from(r.form!.fields.SAMLResponse!, 'base64').toString('utf8');
      assert.match(xml, /<saml:Attribute FriendlyName="Roles" Name="roles">/);
      const ev = await call(srv, 'GET', '/events/events/?action=configuration_error&page_size=50');
      const failed = ev.body.results.find((e: any) => e.context.mapping?.name === 'saml broken');
      assert.ok(failed, JSON.stringify(ev.body.results.map((e: any) => e.context)));
      assert.equal(failed.context.message, "Failed to evaluate property-mapping: 'saml broken'");
      assert.equal(failed.context.provider.name, 'saml-python');
      // preview_user shows the same attributes and the NameID
      const preview = await call(srv, 'GET', `/providers/saml/${p.pk}/preview_user/?for_user=${aliceId}`);
      assert.equal(preview.status, 200, JSON.stringify(preview.body));
      assert.deepEqual(
        preview.body.preview.attributes.find((a: any) => a.Name === 'roles'),
        { Value: ['alice-admin', 'saml-python'], FriendlyName: 'Roles', Name: 'roles' },
      );
      assert.equal(preview.body.preview.nameID, uidOf(aliceId, srv.app.services.installId));
    });

    it("refusals: another ACS URL, a missing request, the application's policies", async () => {
      const p = await app('refusals');
      const b = await loggedIn();
      const wrong = serviceProvider({ idpCert: idp.cert, entryPoint: p.url_sso_redirect, callbackUrl: 'http://127.0.0.1:9/elsewhere' });
      let r = await b.send(await wrong.getAuthorizeUrlAsync('', undefined, {}));
      assert.equal(r.status, 400);
      assert.match(
        r.text,
        /ACS URL of http:\/\/127\.0\.0\.1:9\/elsewhere doesn(&#39;|')t match Provider ACS URL of http:\/\/127\.0\.0\.1:9\/saml\/acs\./,
      );
      r = await b.send(p.url_sso_redirect);
      assert.equal(r.status, 400);
      assert.match(r.text, /The SAML request payload is missing\./);
      r = await b.send(p.url_sso_post, {});
      assert.equal(r.status, 400);
      // a request inflating past 1 MiB (8 MiB of XML in 11 KB of deflate) is not read
      const xml = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_b" Version="2.0"><a>${'a'.repeat(8 << 20)}</a></samlp:AuthnRequest>`;
      const bomb = deflateRawSync(Buffer.from(xml), { level: 9 }).toString('base64');
      r = await b.send(`${p.url_sso_redirect}?SAMLRequest=${encodeURIComponent(bomb)}`);
      assert.equal(r.status, 400);
      assert.match(r.text, /Cannot decode SAML request\./);
      // an application bound to a group alice is not in
      const g = await call(srv, 'POST', '/core/groups/', { name: 'saml-admins' });
      const appRow = await call(srv, 'GET', '/core/applications/refusals/');
      assert.equal((await call(srv, 'POST', '/policies/bindings/', { target: appRow.body.pk, group: g.body.pk, order: 0 })).status, 201);
      const saml = serviceProvider({ idpCert: idp.cert, entryPoint: p.url_sso_redirect });
      r = await b.send(await saml.getAuthorizeUrlAsync('', undefined, {}));
      assert.equal(r.status, 403);
      assert.equal(r.form, undefined);
      // an unknown application
      r = await b.send(`${srv.url}/application/saml/nothing-here/sso/binding/init/`);
      assert.equal(r.status, 404);
    });

    it('the metadata: anyone may read it, as JSON or as a file, with one binding when forced', async () => {
      const p = await app('metadata', { verification_kp: sp.pk });
      const anon = await fetch(`${srv.api}/providers/saml/${p.pk}/metadata/`);
      assert.equal(anon.status, 200);
      const body = (await anon.json()) as { metadata: string; download_url: string };
      assert.equal(body.download_url, `${srv.url}/application/saml/metadata/metadata/`);
      const doc = new DOMParser().parseFromString(body.metadata, 'text/xml');
      const md = 'urn:oasis:names:tc:SAML:2.0:metadata';
      assert.equal(doc.documentElement!.getAttribute('entityID'), p.url_issuer);
      const idpSso = doc.getElementsByTagNameNS(md, 'IDPSSODescriptor')[0]!;
      assert.equal(idpSso.getAttribute('WantAuthnRequestsSigned'), 'true');
      const ssoNodes = doc.getElementsByTagNameNS(md, 'SingleSignOnService');
      const sso = Array.from({ length: ssoNodes.length }, (_v, i) => ssoNodes.item(i)!.getAttribute('Location'));
      assert.deepEqual(sso, [p.url_sso_redirect, p.url_sso_post]);
      const cert = doc.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'X509Certificate')[0]!.textContent;
      assert.equal(cert, idp.cert.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ''));
      // signed with the signing key pair, as authentik: authentik's ID, the signature first, covering the document
      const root = doc.documentElement!;
      assert.equal(root.getAttribute('ID'), `_${createHash('sha256').update(`saml-metadata-${p.pk}`).digest('hex')}`);
      const first = Array.from({ length: root.childNodes.length }, (_v, i) => root.childNodes.item(i)!).find(
        (n) => n.nodeType === 1,
      ) as unknown as Element;
      assert.equal(first.localName, 'Signature');
      const check = new SignedXml({ publicCert: idp.cert, getCertFromKeyInfo: () => null });
      check.loadSignature(first as never);
      assert.equal(check.checkSignature(body.metadata), true);
      assert.equal(check.getReferences()[0]?.uri, `#${root.getAttribute('ID')}`);
      // a changed byte breaks it
      const tampered = body.metadata.replace(p.url_sso_post, `${p.url_sso_post}x`);
      const broken = new SignedXml({ publicCert: idp.cert, getCertFromKeyInfo: () => null });
      broken.loadSignature(first as never);
      assert.equal(broken.checkSignature(tampered), false);
      const forced = await fetch(
        `${srv.api}/providers/saml/${p.pk}/metadata/?force_binding=${encodeURIComponent('urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST')}`,
      );
      const fdoc = new DOMParser().parseFromString(((await forced.json()) as { metadata: string }).metadata, 'text/xml');
      assert.equal(fdoc.getElementsByTagNameNS(md, 'SingleSignOnService').length, 1);
      const file = await fetch(`${srv.api}/providers/saml/${p.pk}/metadata/?download`);
      assert.equal(file.headers.get('content-type'), 'application/xml');
      assert.equal(file.headers.get('content-disposition'), 'attachment; filename="saml-metadata_authentik_meta.xml"');
      const appFile = await fetch(body.download_url);
      assert.equal(appFile.status, 200);
      assert.equal(await appFile.text(), await file.text());
      // without a signing key pair: no signature, no signing certificate
      const plain = await app('metadata-plain', { signing_kp: null, sign_assertion: false, sign_response: false });
      const plainXml = ((await (await fetch(`${srv.api}/providers/saml/${plain.pk}/metadata/`)).json()) as { metadata: string }).metadata;
      assert.doesNotMatch(plainXml, /Signature|X509Certificate/);
      assert.match(plainXml, /<md:EntityDescriptor [^>]*ID="_[0-9a-f]{64}"/);
      // a provider without an application
      const lone = await call(srv, 'POST', '/providers/saml/', {
        name: 'lone',
        authorization_flow: flows['default-provider-authorization-implicit-consent'],
        invalidation_flow: flows['default-provider-invalidation-flow'],
        acs_url: ACS,
      });
      assert.equal(lone.body.url_issuer, 'authentik');
      assert.equal(lone.body.url_sso_redirect, '-');
      assert.equal(lone.body.url_download_metadata, `${srv.url}/api/v3/providers/saml/${lone.body.pk}/metadata/?download`);
      assert.equal((await fetch(`${srv.api}/providers/saml/${lone.body.pk}/metadata/`)).status, 404);
    });

    it("the API: authentik's defaults, the signing rule, the back-channel correction, nothing written on a 400", async () => {
      const base = {
        name: 'defaults',
        authorization_flow: flows['default-provider-authorization-implicit-consent'],
        invalidation_flow: flows['default-provider-invalidation-flow'],
        acs_url: ACS,
      };
      const r = await call(srv, 'POST', '/providers/saml/', base);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      for (const [k, v] of Object.entries({
        assertion_valid_not_before: 'minutes=-5',
        assertion_valid_not_on_or_after: 'minutes=5',
        session_valid_not_on_or_after: 'minutes=86400',
        digest_algorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
        signature_algorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
        sign_assertion: true,
        sign_response: false,
        sp_binding: 'redirect',
        sls_binding: 'redirect',
        logout_method: 'frontchannel_iframe',
        default_name_id_policy: NAME_ID.unspecified,
        component: 'ak-provider-saml-form',
        meta_model_name: 'authentik_providers_saml.samlprovider',
        verbose_name: 'SAML Provider',
      }))
        assert.deepEqual(r.body[k], v, k);
      const bad = await call(srv, 'POST', '/providers/saml/', { ...base, name: 'unsigned', signing_kp: idp.pk, sign_assertion: false });
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body, {
        non_field_errors: ["With a signing keypair selected, at least one of 'Sign assertion' and 'Sign Response' must be selected."],
      });
      assert.equal((await call(srv, 'GET', '/providers/saml/?name=unsigned')).body.results.length, 0);
      // an Ed25519 pair cannot sign SAML (authentik's test_create_validate_unsupported_key_type)
      const ed = await call(srv, 'POST', '/crypto/certificatekeypairs/generate/', {
        common_name: 'saml-ed',
        validity_days: 30,
        alg: 'ed25519',
      });
      assert.equal(ed.status, 200, JSON.stringify(ed.body));
      const edwards = await call(srv, 'POST', '/providers/saml/', {
        ...base,
        name: 'edwards',
        signing_kp: ed.body.pk,
        sign_assertion: true,
      });
      assert.deepEqual(
        [edwards.status, edwards.body],
        [400, { signing_kp: ['Only RSA, EC, and DSA key types are supported for SAML signing.'] }],
      );
      const missing = await call(srv, 'POST', '/providers/saml/', { name: 'no-acs', authorization_flow: base.authorization_flow });
      assert.equal(missing.status, 400);
      assert.deepEqual(Object.keys(missing.body).sort(), ['acs_url', 'invalidation_flow']);
      const back = await call(srv, 'PATCH', `/providers/saml/${r.body.pk}/`, { logout_method: 'backchannel', sls_binding: 'redirect' });
      assert.equal(back.body.logout_method, 'frontchannel_iframe');
      const all = await call(srv, 'GET', '/providers/all/types/');
      assert.ok(all.body.some((t: any) => t.model_name === 'samlprovider' && t.component === 'ak-provider-saml-form'));
    });

    it("the explicit-consent flow: authentik's consent header, then the answer; a second time no question", async () => {
      const p = await app('consent', { authorization_flow: flows['default-provider-authorization-explicit-consent'] });
      const saml = serviceProvider({ idpCert: idp.cert, entryPoint: p.url_sso_redirect });
      const b = await loggedIn();
      const first = await fetch(await saml.getAuthorizeUrlAsync('', undefined, {}), { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(first);
      assert.equal(first.headers.get('location'), '/if/flow/default-provider-authorization-explicit-consent/');
      const ch = (await b.executor('default-provider-authorization-explicit-consent')).body;
      assert.equal(ch.component, 'ak-stage-consent');
      assert.equal(ch.header_text, "You're about to sign into SAML consent.");
      assert.deepEqual(ch.permissions, []);
      const done = (await b.solve('default-provider-authorization-explicit-consent', { component: 'ak-stage-consent', token: ch.token }))
        .body;
      assert.equal(done.component, 'xak-flow-redirect');
      assert.match(done.to, /^\/application\/saml\/consent\/sso\/fulfil\/[\w-]+\/$/);
      const r = await b.send(done.to);
      assert.equal(r.status, 200, r.text);
      assert.ok((await saml.validatePostResponseAsync(r.form!.fields)).profile);
      // the continuation answers once
      assert.equal((await b.send(done.to)).status, 400);
      // consent given: the next sign-in's flow asks nothing and goes on to the answer
      const second = await fetch(await saml.getAuthorizeUrlAsync('', undefined, {}), { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(second);
      const end = (await b.executor('default-provider-authorization-explicit-consent')).body;
      assert.equal(end.component, 'xak-flow-redirect', JSON.stringify(end));
      const again = await b.send(end.to);
      assert.equal(again.status, 200);
      assert.ok((await saml.validatePostResponseAsync(again.form!.fields)).profile);
    });

    it('attribute values with markup and any Unicode arrive as they are (property test through node-saml)', async () => {
      const echo = await call(srv, 'POST', '/propertymappings/provider/saml/', {
        name: 'saml echo',
        saml_name: 'echo',
        expression: 'return request.user.attributes.get("echo")',
      });
      assert.equal(echo.status, 201, JSON.stringify(echo.body));
      const p = await app('echo', { property_mappings: [echo.body.pk] });
      const saml = serviceProvider({ idpCert: idp.cert, entryPoint: p.url_sso_redirect });
      const b = await loggedIn();
      // line ends as they are: a carriage return is not made a line feed by the SP's parser
      assert.equal((await call(srv, 'PATCH', `/core/users/${aliceId}/`, { attributes: { echo: 'a\r\nb\rc\nd' } })).status, 200);
      const crlf = await b.send(await saml.getAuthorizeUrlAsync('', undefined, {}));
      assert.equal((await saml.validatePostResponseAsync(crlf.form!.fields)).profile!.echo, 'a\r\nb\rc\nd');
      const text = fc
        .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
        .filter((v) => v.trim() === v && !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(v));
      await fc.assert(
        fc.asyncProperty(fc.oneof(text, fc.constantFrom('<a href="x">&amp;</a>', "O'Brien & <Co>", ']]>', '&#x41;')), async (value) => {
          assert.equal((await call(srv, 'PATCH', `/core/users/${aliceId}/`, { attributes: { echo: value } })).status, 200);
          const r = await b.send(await saml.getAuthorizeUrlAsync('', undefined, {}));
          const { profile } = await saml.validatePostResponseAsync(r.form!.fields);
          assert.equal(profile!.echo, value);
        }),
        { numRuns: 15 },
      );
    });

    it("AuthnContextClassRef: from the login's method, or from the provider's mapping", async () => {
      const p = await app('class-ref');
      const saml = serviceProvider({ idpCert: idp.cert, entryPoint: p.url_sso_redirect });
      const b = await loggedIn();
      const classRef = async () => {
        const r = await b.send(await saml.getAuthorizeUrlAsync('', undefined, {}));
        const xml = Buffer.from(r.form!.fields.SAMLResponse!, 'base64').toString('utf8');
        assert.ok((await saml.validatePostResponseAsync(r.form!.fields)).profile);
        return /<saml:AuthnContextClassRef>([^<]*)<\/saml:AuthnContextClassRef>/.exec(xml)?.[1];
      };
      // a password login
      assert.equal(await classRef(), 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport');
      const m = await call(srv, 'POST', '/propertymappings/provider/saml/', {
        name: 'saml class ref',
        saml_name: 'unused',
        expression: 'return "urn:example:ac:" + request.user.username',
      });
      assert.equal(m.status, 201, JSON.stringify(m.body));
      assert.equal((await call(srv, 'PATCH', `/providers/saml/${p.pk}/`, { authn_context_class_ref_mapping: m.body.pk })).status, 200);
      assert.equal(await classRef(), 'urn:example:ac:alice');
    });
  });
}
