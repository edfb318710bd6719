/**
 * The WS-Federation provider (authentik 2026), on SQLite and PostgreSQL: `/providers/wsfed/` through the official
 * client, its metadata; a relying party's sign-in at `/application/wsfed/` — the login, the authorization flow, and
 * the RequestSecurityTokenResponse posted to its reply URL with a signed SAML 2.0 or 1.1 assertion (checked with
 * xml-crypto against the key pair's certificate); refusals of bad requests; the sign-out ending the session.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { ProvidersApi } from '@goauthentik/api/dist/apis/ProvidersApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../helpers/flows.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { body } from '../rest/contract/client.js';
import { PASSWORD } from './oauth2/browser.js';
import { flowsAndMappings, keyPairOf, loggedInAs, SamlBrowser } from './saml/sp.js';

const REALM = 'urn:sharepoint:portal';
const REPLY = 'http://127.0.0.1:9/_trust/';
const SAML2 = 'urn:oasis:names:tc:SAML:2.0:assertion';
const SAML11 = 'urn:oasis:names:tc:SAML:1.0:assertion';
const TRUST = 'http://schemas.xmlsoap.org/ws/2005/02/trust';
const DS = 'http://www.w3.org/2000/09/xmldsig#';

/** an xmldom node list as an array */
const nodes = (list: { length: number; item(i: number): unknown }) =>
  Array.from({ length: list.length }, (_, i) => list.item(i) as Element);

for (const dialect of dialects()) {
  describe(`WS-Federation provider (${dialect})`, () => {
    let srv: TestServer;
    let providers: ProvidersApi;
    let flows: Record<string, string>;
    let managed: Record<string, string>;
    let kp: { pk: string; cert: string };
    let pk: number;

    const signIn = (extra: Record<string, string> = {}) =>
      `/application/wsfed/?${new URLSearchParams({ wa: 'wsignin1.0', wtrealm: REALM, wreply: REPLY, wctx: 'rm=0&id=passive', ...extra })}`;

    /** the token a logged-in browser's sign-in gets: the form's fields and the parsed RSTR */
    async function tokenFor(b: SamlBrowser, url = signIn()) {
      const r = await b.send(url);
      assert.equal(r.status, 200, r.text.slice(0, 300));
      assert.equal(r.form?.action, REPLY);
      const xml = r.form!.fields.wresult!;
      return { fields: r.form!.fields, xml, doc: new DOMParser().parseFromString(xml, 'text/xml') };
    }

    before(async () => {
      srv = await startServer(dialect);
      providers = new ProvidersApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      ({ flows, managed } = await flowsAndMappings(srv));
      kp = await keyPairOf(srv, 'wsfed-signing');
      await createUser(srv, 'alice', PASSWORD, { name: 'Alice Liddell' });
      const created = await body(
        providers.providersWsfedCreateRaw({
          wSFederationProviderRequest: {
            name: 'SharePoint',
            authorizationFlow: flows['default-provider-authorization-implicit-consent']!,
            invalidationFlow: flows['default-provider-invalidation-flow']!,
            replyUrl: REPLY,
            wtrealm: REALM,
            signingKp: kp.pk,
            propertyMappings: [managed.email!, managed.name!, managed.upn!],
          },
        }),
      );
      assertMatches('WSFederationProvider', created);
      pk = created.pk;
      assert.equal((await call(srv, 'POST', '/core/applications/', { name: 'SharePoint', slug: 'sharepoint', provider: pk })).status, 201);
    });
    after(async () => srv.close());

    it('the admin API: authentik’s defaults, URLs, validation, filters; the metadata names the STS endpoint, signed', async () => {
      const p = (await call(srv, 'GET', `/providers/wsfed/${pk}/`)).body;
      assert.deepEqual(
        [
          p.saml_version,
          p.sign_assertion,
          p.assertion_valid_not_before,
          p.session_valid_not_on_or_after,
          p.url_wsfed,
          p.url_download_metadata,
        ],
        ['2.0', true, 'minutes=-5', 'minutes=86400', `${srv.url}/application/wsfed/`, `${srv.url}/application/wsfed/sharepoint/metadata/`],
      );
      assert.equal(p.component, 'ak-provider-wsfed-form');
      const bad = await call(srv, 'POST', '/providers/wsfed/', { name: 'x', saml_version: '3.0' });
      assert.equal(bad.status, 400);
      assert.deepEqual(Object.keys(bad.body).sort(), ['authorization_flow', 'invalidation_flow', 'reply_url', 'saml_version', 'wtrealm']);
      assert.equal((await call(srv, 'GET', `/providers/wsfed/?audience=${encodeURIComponent(REALM)}`)).body.results.length, 1);
      assert.equal((await call(srv, 'GET', '/providers/wsfed/?audience=urn:other')).body.results.length, 0);
      const types = (await call(srv, 'GET', '/providers/all/types/')).body.map((t: { model_name: string }) => t.model_name);
      assert.ok(types.includes('wsfederationprovider'));
      const meta = await call(srv, 'GET', `/providers/wsfed/${pk}/metadata/`);
      assert.equal(meta.status, 200);
      const doc = new DOMParser().parseFromString(meta.body.metadata, 'text/xml');
      const root = doc.documentElement!;
      assert.equal(root.getAttribute('entityID'), `${srv.url}/application/wsfed/sharepoint/metadata/`);
      const role = root.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:metadata', 'RoleDescriptor')[0]!;
      assert.equal(role.getAttribute('xsi:type'), 'fed:SecurityTokenServiceType');
      assert.match(meta.body.metadata, new RegExp(`<wsa:Address>${srv.url}/application/wsfed/</wsa:Address>`));
      const sx = new SignedXml({ publicCert: kp.cert, getCertFromKeyInfo: () => null });
      sx.loadSignature(root.getElementsByTagNameNS(DS, 'Signature')[0] as never);
      assert.equal(sx.checkSignature(meta.body.metadata), true);
      const file = await fetch(`${srv.url}/application/wsfed/sharepoint/metadata/`);
      assert.equal(file.status, 200);
      assert.match(file.headers.get('content-disposition') ?? '', /attachment/);
      const preview = await call(srv, 'GET', `/providers/wsfed/${pk}/preview_user/`);
      assert.equal(preview.status, 200);
      assert.ok(preview.body.preview.attributes.length >= 2);
    });

    it('a sign-in: the login first, then a signed SAML 2.0 token for the realm posted to the reply URL with wctx', async () => {
      const b = new SamlBrowser(srv);
      const first = await b.send(signIn());
      assert.equal(first.status, 200);
      const next = new URL(`${srv.url}${signIn()}`);
      const landed = await b.loginAndContinue('alice', `${next.pathname}${next.search}`);
      assert.equal(landed.form?.action, REPLY);
      assert.equal(landed.form!.fields.wa, 'wsignin1.0');
      assert.equal(landed.form!.fields.wctx, 'rm=0&id=passive');
      const xml = landed.form!.fields.wresult!;
      const doc = new DOMParser().parseFromString(xml, 'text/xml');
      assert.equal(doc.documentElement!.localName, 'RequestSecurityTokenResponse');
      assert.equal(doc.documentElement!.namespaceURI, TRUST);
      assert.equal(doc.getElementsByTagNameNS('http://www.w3.org/2005/08/addressing', 'Address')[0]!.textContent, REALM);
      const assertion = doc.getElementsByTagNameNS(SAML2, 'Assertion')[0]!;
      assert.equal(assertion.getElementsByTagNameNS(SAML2, 'Audience')[0]!.textContent, REALM);
      assert.equal(assertion.getElementsByTagNameNS(SAML2, 'Issuer')[0]!.textContent, `${srv.url}/application/wsfed/sharepoint/metadata/`);
      const values = nodes(assertion.getElementsByTagNameNS(SAML2, 'AttributeValue')).map((v) => v.textContent);
      assert.ok(values.includes('alice@example.com'));
      assert.ok(values.includes('Alice Liddell'));
      // the references name the assertion
      const ids = nodes(
        doc.getElementsByTagNameNS('http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd', 'KeyIdentifier'),
      );
      assert.deepEqual(
        ids.map((k) => k.textContent),
        [assertion.getAttribute('ID'), assertion.getAttribute('ID')],
      );
      const sx = new SignedXml({ publicCert: kp.cert, getCertFromKeyInfo: () => null });
      sx.loadSignature(assertion.getElementsByTagNameNS(DS, 'Signature')[0] as never);
      assert.equal(sx.checkSignature(xml), true);
      assert.equal(sx.getReferences()[0]!.uri, `#${assertion.getAttribute('ID')}`);
      // tampered: the signature no longer holds
      const tampered = xml.replace('alice@example.com', 'mallory@example.com');
      const check = new SignedXml({ publicCert: kp.cert, getCertFromKeyInfo: () => null });
      check.loadSignature(
        new DOMParser()
          .parseFromString(tampered, 'text/xml')
          .getElementsByTagNameNS(SAML2, 'Assertion')[0]!
          .getElementsByTagNameNS(DS, 'Signature')[0] as never,
      );
      assert.equal(check.checkSignature(tampered), false);
      const events = (await call(srv, 'GET', '/events/events/?action=authorize_application')).body.results;
      assert.equal(events[0].context.authorized_application.name, 'SharePoint');
    });

    it('saml_version 1.1: a SAML 1.1 assertion, its signature the last child referencing the AssertionID', async () => {
      await call(srv, 'PATCH', `/providers/wsfed/${pk}/`, { saml_version: '1.1' });
      try {
        const b = await loggedInAs(srv, 'alice');
        const { xml, doc } = await tokenFor(b);
        const assertion = doc.getElementsByTagNameNS(SAML11, 'Assertion')[0]!;
        assert.deepEqual([assertion.getAttribute('MajorVersion'), assertion.getAttribute('MinorVersion')], ['1', '1']);
        assert.equal(assertion.getAttribute('Issuer'), `${srv.url}/application/wsfed/sharepoint/metadata/`);
        assert.equal(assertion.getElementsByTagNameNS(SAML11, 'Audience')[0]!.textContent, REALM);
        const auth = assertion.getElementsByTagNameNS(SAML11, 'AuthenticationStatement')[0]!;
        assert.equal(auth.getAttribute('AuthenticationMethod'), 'urn:oasis:names:tc:SAML:1.0:am:password');
        const attrs = nodes(assertion.getElementsByTagNameNS(SAML11, 'Attribute'));
        assert.ok(attrs.every((a) => a.getAttribute('AttributeNamespace') === 'http://schemas.xmlsoap.org/claims'));
        assert.equal(doc.getElementsByTagNameNS(TRUST, 'TokenType')[0]!.textContent, 'urn:oasis:names:tc:SAML:1.0:assertion');
        const children = nodes(assertion.childNodes).filter((n) => n.nodeType === 1);
        assert.equal(children.at(-1)!.localName, 'Signature');
        const sx = new SignedXml({ publicCert: kp.cert, getCertFromKeyInfo: () => null, idAttribute: 'AssertionID' });
        sx.loadSignature(children.at(-1) as never);
        assert.equal(sx.checkSignature(xml), true);
        assert.equal(sx.getReferences()[0]!.uri, `#${assertion.getAttribute('AssertionID')}`);
      } finally {
        await call(srv, 'PATCH', `/providers/wsfed/${pk}/`, { saml_version: '2.0' });
      }
    });

    it('a realm two providers name: the one with an application answers', async () => {
      const other = await call(srv, 'POST', '/providers/wsfed/', {
        name: 'SharePoint draft',
        authorization_flow: flows['default-provider-authorization-implicit-consent'],
        invalidation_flow: flows['default-provider-invalidation-flow'],
        reply_url: 'http://127.0.0.1:9/draft/',
        wtrealm: REALM,
      });
      assert.equal(other.status, 201);
      try {
        const b = await loggedInAs(srv, 'alice');
        const { fields } = await tokenFor(b);
        assert.equal(fields.wa, 'wsignin1.0');
      } finally {
        await call(srv, 'DELETE', `/providers/wsfed/${other.body.pk}/`);
      }
    });

    it('refused: another action, an unknown realm, a reply URL that is not the provider’s or under it', async () => {
      const b = await loggedInAs(srv, 'alice');
      const bad = async (url: string) => (await b.send(url)).status;
      assert.equal(await bad('/application/wsfed/?wa=wattr1.0'), 400);
      assert.equal(await bad(signIn({ wtrealm: 'urn:unknown' })), 404);
      assert.equal(await bad('/application/wsfed/?wa=wsignin1.0'), 400);
      assert.equal(await bad(signIn({ wreply: 'https://evil.example/_trust/' })), 400);
      assert.equal(await bad(signIn({ wreply: 'http://127.0.0.1:9/_trust/../x' })), 200);
      assert.equal(await bad(signIn({ wreply: 'http://127.0.0.1:9/_trust.evil/' })), 400);
      // no wreply: the reply URL
      const r = await b.send(`/application/wsfed/?${new URLSearchParams({ wa: 'wsignin1.0', wtrealm: REALM })}`);
      assert.equal(r.form?.action, REPLY);
      assert.equal('wctx' in r.form!.fields, false);
    });

    it('a Keystage logout tells the relying party to clean up (wsignoutcleanup1.0 in an iframe), once', async () => {
      const db = srv.app.store.db;
      const recorded = async () => (await db.selectFrom('saml_sessions').select('id').where('provider_id', '=', pk).execute()).length;
      const earlier = await recorded();
      const b = new SamlBrowser(srv);
      await b.send(signIn());
      const next = new URL(`${srv.url}${signIn()}`);
      const landed = await b.loginAndContinue('alice', `${next.pathname}${next.search}`);
      assert.equal(landed.form?.fields.wa, 'wsignin1.0');
      assert.equal(await recorded(), earlier + 1, 'the session the relying party holds is recorded');
      const r = await fetch(`${srv.url}/flows/-/default/invalidation/`, { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(r);
      const ch = (await b.executor('default-invalidation-flow')).body;
      assert.equal(ch.component, 'ak-provider-iframe-logout', JSON.stringify(ch));
      assertMatches('IframeLogoutChallenge', ch);
      assert.deepEqual(ch.logout_urls, [
        { url: 'http://127.0.0.1:9/_trust/?wa=wsignoutcleanup1.0', provider_name: 'SharePoint', binding: 'redirect' },
      ]);
      const done = (await b.solve('default-invalidation-flow', { component: 'ak-provider-iframe-logout' })).body;
      assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
      assert.equal(await recorded(), earlier, "this session's row went with it");
      assert.equal((await fetch(`${srv.api}/core/users/me/`, { headers: b.jar.headers() })).status, 403);
    });

    it('a sign-out: the invalidation flow ends the session, then back to the reply URL', async () => {
      const b = await loggedInAs(srv, 'alice');
      const out = await fetch(`${srv.url}/application/wsfed/?${new URLSearchParams({ wa: 'wsignout1.0', wtrealm: REALM })}`, {
        redirect: 'manual',
        headers: b.jar.headers(),
      });
      b.jar.keep(out);
      assert.equal(out.headers.get('location'), '/if/flow/default-provider-invalidation-flow/');
      // the invalidation flow's page, then its end leads to the relying party
      const end = await b.runFlow('default-provider-invalidation-flow');
      assert.equal(end.component, 'xak-flow-redirect', JSON.stringify(end));
      assert.equal(end.to, REPLY);
      const me = await fetch(`${srv.api}/core/users/me/`, { headers: b.jar.headers() });
      assert.equal(me.status, 403);
    });
  });
}
