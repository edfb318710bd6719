/**
 * The SAML provider's single logout, with @node-saml/node-saml as the service provider, on SQLite and PostgreSQL:
 * a service provider's LogoutRequest (redirect and POST bindings, the unified endpoint, a signature required by a
 * verification certificate) ends the Keystage session through the invalidation flow and is answered with a
 * LogoutResponse by the SLS binding, signed when asked; a Keystage logout tells each service provider holding a
 * session from it — in the logout flow's iframes, or by a back-channel POST to a service provider on 127.0.0.1.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dialects, startServer, type TestServer } from '../../helpers/server.js';
import { createUser } from '../../helpers/flows.js';
import { assertMatches } from '../../helpers/openapi-schema.js';
import { PASSWORD } from '../oauth2/browser.js';
import { ACS, SP_ENTITY, type SamlBrowser, flowsAndMappings, keyPairOf, loggedInAs, samlApp, formOf, serviceProvider } from './sp.js';

const SLS = 'http://127.0.0.1:9/saml/sls';

for (const dialect of dialects()) {
  describe(`SAML provider single logout (${dialect})`, () => {
    let srv: TestServer;
    let flows: Record<string, string>;
    let managed: Record<string, string>;
    let idp: { pk: string; cert: string };
    let sp: { pk: string; cert: string; key: string };
    let backchannel: Server;
    let backchannelUrl: string;
    const received: Record<string, string>[] = [];

    const keyPair = (name: string) => keyPairOf(srv, name);

    const app = (slug: string, extra: Record<string, unknown> = {}) =>
      samlApp(srv, slug, {
        authorization_flow: flows['default-provider-authorization-implicit-consent'],
        invalidation_flow: flows['default-provider-invalidation-flow'],
        acs_url: ACS,
        sls_url: SLS,
        audience: SP_ENTITY,
        sp_binding: 'post',
        signing_kp: idp.pk,
        property_mappings: [managed.username],
        ...extra,
      });

    /** a logged-in browser signed into the application: the SP's profile (NameID, session index) */
    async function signedIn(b: SamlBrowser, p: { url_sso_redirect: string; url_slo_redirect: string }, opts = {}) {
      const saml = serviceProvider({ idpCert: idp.cert, entryPoint: p.url_sso_redirect, logoutUrl: p.url_slo_redirect, ...opts });
      const r = await b.send(await saml.getAuthorizeUrlAsync('', undefined, {}));
      assert.equal(r.status, 200, r.text);
      const { profile } = await saml.validatePostResponseAsync(r.form!.fields);
      return { saml, profile: profile! };
    }

    const loggedIn = () => loggedInAs(srv, 'alice');

    const sessionsOf = async () => (await srv.app.store.db.selectFrom('saml_sessions').selectAll().execute()).length;

    before(async () => {
      srv = await startServer(dialect);
      ({ flows, managed } = await flowsAndMappings(srv));
      idp = await keyPair('idp');
      sp = await keyPair('sp');
      await createUser(srv, 'alice', PASSWORD);
      backchannel = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => {
          body += c;
        });
        req.on('end', () => {
          received.push(Object.fromEntries(new URLSearchParams(body)));
          res.end('ok');
        });
      });
      await new Promise<void>((resolve) => backchannel.listen(0, '127.0.0.1', resolve));
      backchannelUrl = `http://127.0.0.1:${(backchannel.address() as AddressInfo).port}/sls`;
    });
    after(async () => {
      await srv.close();
      await new Promise((resolve) => backchannel.close(resolve));
    });

    it("SP-initiated by the redirect binding, native front channel: the session ended, then a signed LogoutResponse to the SP's SLS URL", async () => {
      const p = await app('sp-logout', { sign_logout_response: true, logout_method: 'frontchannel_native' });
      const b = await loggedIn();
      const { saml, profile } = await signedIn(b, p);
      assert.equal(await sessionsOf(), 1);
      const logoutUrl = await saml.getLogoutUrlAsync(profile, 'after-logout', {});
      const r = await fetch(logoutUrl, { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(r);
      assert.equal(r.headers.get('location'), '/if/flow/default-provider-invalidation-flow/');
      const done = await b.runFlow('default-provider-invalidation-flow');
      assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
      const to = new URL(done.to);
      assert.equal(`${to.origin}${to.pathname}`, SLS);
      assert.equal(to.searchParams.get('RelayState'), 'after-logout');
      assert.ok(to.searchParams.get('Signature'));
      const query = Object.fromEntries(to.searchParams);
      const checked = await saml.validateRedirectAsync(query, to.search.slice(1));
      assert.equal(checked.loggedOut, true);
      // the Keystage session is gone, and the SAML session with it
      assert.equal((await b.jar.json(`${srv.api}/core/users/me/`)).status, 403);
      assert.equal(await sessionsOf(), 0);
      // a tampered signature is refused by the SP library (the check is real)
      const bad = new URLSearchParams(to.search);
      bad.set('Signature', Buffer.from('x'.repeat(256)).toString('base64'));
      await assert.rejects(saml.validateRedirectAsync(Object.fromEntries(bad), bad.toString()));
    });

    it('SP-initiated by the POST binding to the unified endpoint; the answer posted to the SLS URL by Keystage', async () => {
      const p = await app('sp-post', { sls_binding: 'post' });
      const b = await loggedIn();
      const { saml, profile } = await signedIn(b, p);
      // a LogoutRequest as the POST binding carries it (base64, not deflated)
      const url = new URL(await saml.getLogoutUrlAsync(profile, '', {}));
      const { inflateRawSync } = await import('node:zlib');
      const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
      const answer = await b.send(p.url_unified, { SAMLRequest: Buffer.from(xml).toString('base64') });
      // the invalidation flow's page: the LogoutResponse in an iframe (the default method), then the session's end
      assert.equal(answer.status, 200);
      const ch = (await b.executor('default-provider-invalidation-flow')).body;
      assert.equal(ch.component, 'ak-provider-iframe-logout', JSON.stringify(ch));
      assert.equal(ch.logout_urls.length, 1);
      assert.equal(ch.logout_urls[0].binding, 'post');
      const done = (await b.solve('default-provider-invalidation-flow', { component: 'ak-provider-iframe-logout' })).body;
      assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
      // the iframe's page posts the LogoutResponse to the SLS URL (and may be framed by Keystage only)
      const page = await fetch(new URL(ch.logout_urls[0].url, srv.url));
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'self'/);
      const form = formOf(await page.text())!;
      assert.equal(form.action, SLS);
      const response = Buffer.from(form.fields.SAMLResponse!, 'base64').toString('utf8');
      assert.match(response, /<samlp:LogoutResponse /);
      assert.match(response, /urn:oasis:names:tc:SAML:2\.0:status:Success/);
      assert.equal((await b.jar.json(`${srv.api}/core/users/me/`)).status, 403);
    });

    it('a verification certificate makes a signed LogoutRequest a must', async () => {
      const p = await app('sp-signed', { verification_kp: sp.pk });
      const b = await loggedIn();
      const signer = serviceProvider({
        idpCert: idp.cert,
        entryPoint: p.url_sso_redirect,
        logoutUrl: p.url_slo_redirect,
        privateKey: sp.key,
        signatureAlgorithm: 'sha256',
      });
      const { profile } = await signedIn(b, p, { privateKey: sp.key, signatureAlgorithm: 'sha256' });
      const unsigned = serviceProvider({ idpCert: idp.cert, entryPoint: p.url_sso_redirect, logoutUrl: p.url_slo_redirect });
      let r = await fetch(await unsigned.getLogoutUrlAsync(profile, '', {}), { redirect: 'manual', headers: b.jar.headers() });
      assert.equal(r.status, 400);
      assert.match(await r.text(), /Verification Certificate configured, but request is not signed\./);
      assert.equal((await b.jar.json(`${srv.api}/core/users/me/`)).status, 200);
      r = await fetch(await signer.getLogoutUrlAsync(profile, '', {}), { redirect: 'manual', headers: b.jar.headers() });
      assert.equal(r.status, 302);
      assert.equal(r.headers.get('location'), '/if/flow/default-provider-invalidation-flow/');
    });

    it('a LogoutRequest from someone not logged in here: nothing to end, the LogoutResponse still goes back', async () => {
      const p = await app('sp-stranger');
      const b = await loggedIn();
      const { saml, profile } = await signedIn(b, p);
      const r = await fetch(await saml.getLogoutUrlAsync(profile, 'again', {}), { redirect: 'manual' });
      assert.equal(r.status, 302);
      const to = new URL(r.headers.get('location')!);
      assert.equal(`${to.origin}${to.pathname}`, SLS);
      assert.equal(to.searchParams.get('RelayState'), 'again');
      assert.equal((await saml.validateRedirectAsync(Object.fromEntries(to.searchParams), to.search.slice(1))).loggedOut, true);
      // the person logged in elsewhere is still logged in
      assert.equal((await b.jar.json(`${srv.api}/core/users/me/`)).status, 200);
    });

    it("a service provider's LogoutResponse: on to its RelayState on its own site or Keystage's, never elsewhere", async () => {
      const p = await app('sp-answer');
      const response = (relay: string) =>
        fetch(`${p.url_slo_redirect}?${new URLSearchParams({ SAMLResponse: 'eA==', RelayState: relay })}`, { redirect: 'manual' });
      assert.equal((await response('http://127.0.0.1:9/home')).headers.get('location'), 'http://127.0.0.1:9/home');
      assert.equal((await response('/if/user/')).headers.get('location'), `${srv.url}/if/user/`);
      assert.equal((await response('https://evil.example/')).headers.get('location'), '/');
      assert.equal((await response('//evil.example/')).headers.get('location'), '/');
      assert.equal((await response('/\\evil.example/')).headers.get('location'), '/');
      assert.equal((await response('javascript:alert(1)')).headers.get('location'), '/');
    });

    it('a Keystage logout, native front channel: the browser taken to each service provider in turn and back to the flow', async () => {
      const first = await app('native-redirect', { logout_method: 'frontchannel_native', sign_logout_request: true });
      const second = await app('native-post', { logout_method: 'frontchannel_native', sls_binding: 'post', sign_logout_request: true });
      const b = await loggedIn();
      const a = await signedIn(b, first);
      const c = await signedIn(b, second);
      const r = await fetch(`${srv.url}/flows/-/default/invalidation/`, { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(r);
      const back = `${srv.url}/if/flow/default-invalidation-flow/`;
      // the first: the redirect binding's URL, signed, its RelayState the logout flow's page
      let ch = (await b.executor('default-invalidation-flow')).body;
      assert.equal(ch.component, 'ak-provider-saml-native-logout', JSON.stringify(ch));
      assertMatches('NativeLogoutChallenge', ch);
      assert.equal(ch.provider_name, 'saml-native-redirect');
      assert.equal(ch.saml_binding, 'redirect');
      const u = new URL(ch.redirect_url);
      assert.equal(`${u.origin}${u.pathname}`, SLS);
      assert.equal(u.searchParams.get('RelayState'), back);
      assert.ok(u.searchParams.get('Signature'));
      const checked = await a.saml.validateRedirectAsync(Object.fromEntries(u.searchParams), u.search.slice(1));
      assert.equal(checked.profile?.nameID, a.profile.nameID);
      assert.equal(checked.profile?.sessionIndex, a.profile.sessionIndex);
      // the service provider's answer brings the browser back to the flow
      const answered = await fetch(`${first.url_slo_redirect}?${new URLSearchParams({ SAMLResponse: 'eA==', RelayState: back })}`, {
        redirect: 'manual',
        headers: b.jar.headers(),
      });
      assert.equal(answered.status, 302);
      assert.equal(answered.headers.get('location'), back);
      // the second: a form to post, with the same way back
      ch = (await b.executor('default-invalidation-flow')).body;
      assert.equal(ch.component, 'ak-provider-saml-native-logout', JSON.stringify(ch));
      assertMatches('NativeLogoutChallenge', ch);
      assert.equal(ch.provider_name, 'saml-native-post');
      assert.equal(ch.saml_binding, 'post');
      assert.equal(ch.post_url, SLS);
      assert.equal(ch.saml_relay_state, back);
      const posted = await c.saml.validatePostRequestAsync({ SAMLRequest: ch.saml_request, RelayState: ch.saml_relay_state });
      assert.equal(posted.profile?.nameID, c.profile.nameID);
      assert.equal(posted.profile?.sessionIndex, c.profile.sessionIndex);
      // none left: the flow goes on to its end; the person is logged out and the SAML sessions are gone
      const done = (await b.executor('default-invalidation-flow')).body;
      assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
      assert.equal((await b.jar.json(`${srv.api}/core/users/me/`)).status, 403);
      const left = await srv.app.store.db
        .selectFrom('saml_sessions')
        .select('id')
        .where('provider_id', 'in', [first.pk, second.pk])
        .execute();
      assert.equal(left.length, 0);
    });

    it('a Keystage logout: a LogoutRequest in an iframe (front channel) and one posted by the server (back channel)', async () => {
      const front = await app('idp-front', { sign_logout_request: true });
      const back = await app('idp-back', {
        sls_binding: 'post',
        logout_method: 'backchannel',
        sls_url: backchannelUrl,
        sign_logout_request: true,
      });
      const b = await loggedIn();
      const a = await signedIn(b, front);
      const c = await signedIn(b, back);
      received.length = 0;
      const r = await fetch(`${srv.url}/flows/-/default/invalidation/`, { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(r);
      const ch = (await b.executor('default-invalidation-flow')).body;
      assert.equal(ch.component, 'ak-provider-iframe-logout', JSON.stringify(ch));
      assertMatches('IframeLogoutChallenge', ch);
      assert.deepEqual(
        ch.logout_urls.map((u: { provider_name: string }) => u.provider_name),
        ['saml-idp-front'],
      );
      // the front channel's request: signed, for the SP's NameID and session index
      const u = new URL(ch.logout_urls[0].url);
      assert.equal(`${u.origin}${u.pathname}`, SLS);
      assert.ok(u.searchParams.get('Signature'));
      const checked = await a.saml.validateRedirectAsync(Object.fromEntries(u.searchParams), u.search.slice(1));
      assert.equal(checked.profile?.nameID, a.profile.nameID);
      assert.equal(checked.profile?.sessionIndex, a.profile.sessionIndex);
      // the back channel's, posted by Keystage
      assert.equal(received.length, 1);
      const posted = await c.saml.validatePostRequestAsync(received[0]!);
      assert.equal(posted.profile?.nameID, c.profile.nameID);
      assert.equal(posted.profile?.sessionIndex, c.profile.sessionIndex);
      const done = (await b.solve('default-invalidation-flow', { component: 'ak-provider-iframe-logout' })).body;
      assert.equal(done.component, 'xak-flow-redirect');
      const left = await srv.app.store.db
        .selectFrom('saml_sessions')
        .select('id')
        .where('provider_id', 'in', [front.pk, back.pk])
        .execute();
      assert.equal(left.length, 0);
    });
  });
}
