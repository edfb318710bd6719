/**
 * SAML sources (authentik's authentik/sources/saml): the admin API (`/sources/saml/`, `metadata/`, the SAML property
 * mappings and connections), and a person logging in through a SAML identity provider on 127.0.0.1 — the redirect
 * and POST bindings with signed AuthnRequests, the response's and assertion's signatures checked against the
 * verification certificate (unsigned, tampered, wrapped and foreign-signed responses refused), encrypted assertions,
 * the request ID kept to its session and to one use, IdP-initiated logins and their replay, the IdP's refusals,
 * validity windows and audiences, transient NameIDs, Python mappings reading `root` and `name_id`, and the
 * cross-site POST relayed once so the browser sends its session cookie.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { CookieJar } from '../helpers/cookie-jar.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { FakeSamlIdp } from '../helpers/fake-saml-idp.js';
import { connectionsOf, flowPks, loggedInAs, runFlow } from '../helpers/sources.js';
import { purgeExpiredTemporaryUsers } from '../../src/users/temporary.js';
import { createUser } from '../helpers/flows.js';
import { sessionKeyOf } from '../../src/sessions/session-hash.js';

const NS_SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';

async function keyPair(srv: TestServer, name: string): Promise<{ pk: string; cert: string; key: string }> {
  const made = await call(srv, 'POST', '/crypto/certificatekeypairs/generate/', { common_name: name, validity_days: 30, alg: 'rsa' });
  assert.equal(made.status, 200, JSON.stringify(made.body));
  const cert = (await call(srv, 'GET', `/crypto/certificatekeypairs/${made.body.pk}/view_certificate/`)).body.data;
  const key = (await call(srv, 'GET', `/crypto/certificatekeypairs/${made.body.pk}/view_private_key/`)).body.data;
  return { pk: made.body.pk, cert, key };
}

/** the IdP's answer page: its form's action and fields */
function formOf(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form[^>]*action="([^"]*)"/.exec(html)?.[1] ?? '';
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g))
    fields[m[1]!] = m[2]!.replace(/&#(\d+);|&amp;|&quot;|&lt;|&gt;/g, (e, n) =>
      n ? String.fromCharCode(Number(n)) : ({ '&amp;': '&', '&quot;': '"', '&lt;': '<', '&gt;': '>' } as Record<string, string>)[e]!,
    );
  return { action: action.replace(/&amp;/g, '&'), fields };
}

const postForm = (jar: CookieJar, url: string, fields: Record<string, string>) =>
  fetch(url, {
    method: 'POST',
    headers: jar.headers({ 'content-type': 'application/x-www-form-urlencoded' }),
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  }).then((r) => {
    jar.keep(r);
    return r;
  });

for (const dialect of dialects()) {
  describe(`SAML sources (${dialect})`, () => {
    let srv: TestServer;
    let idp: FakeSamlIdp;
    let flows: Record<string, string>;
    let idpPair: { pk: string; cert: string; key: string };
    let spPair: { pk: string; cert: string; key: string };
    let sourcePk = '';

    /** the person's way: Keystage's login URL → the IdP → the IdP's form posted to the ACS; the ACS's answer */
    async function throughIdp(jar: CookieJar, slug = 'idp', query = ''): Promise<Response> {
      let res = await fetch(`${srv.url}/source/saml/${slug}/${query}`, { headers: jar.headers(), redirect: 'manual' });
      jar.keep(res);
      assert.equal(res.status, 302, await res.clone().text());
      res = await fetch(res.headers.get('location')!, { redirect: 'manual' });
      const { action, fields } = formOf(await res.text());
      assert.equal(action, `${srv.url}/source/saml/${slug}/acs/`);
      return postForm(jar, action, fields);
    }

    const updateSource = async (body: Record<string, unknown>, slug = 'idp') => {
      const r = await call(srv, 'PATCH', `/sources/saml/${slug}/`, body);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };

    before(async () => {
      srv = await startServer(dialect);
      flows = await flowPks(srv);
      idpPair = await keyPair(srv, 'idp');
      spPair = await keyPair(srv, 'sp');
      idp = await new FakeSamlIdp(idpPair.key, idpPair.cert).start();
      idp.spCertificate = spPair.cert;
    });
    after(async () => {
      await idp.close();
      await srv.close();
    });

    it('creates a source with authentik’s defaults; refuses what it cannot honour with field errors', async () => {
      const bad = await call(srv, 'POST', '/sources/saml/', {
        name: 'IdP',
        slug: 'idp',
        sso_url: 'not a url',
        pre_authentication_flow: flows['default-source-pre-authentication'],
      });
      assert.equal(bad.status, 400);
      assert.deepEqual(Object.keys(bad.body), ['sso_url']);
      const noFlags = await call(srv, 'POST', '/sources/saml/', {
        name: 'IdP',
        slug: 'idp',
        sso_url: `${idp.url}/sso`,
        pre_authentication_flow: flows['default-source-pre-authentication'],
        verification_kp: idpPair.pk,
        signed_assertion: false,
        signed_response: false,
      });
      assert.equal(noFlags.status, 400);
      assert.match(noFlags.body.non_field_errors[0], /at least one of 'Verify Assertion Signature' or 'Verify Response Signature'/);
      assert.equal((await call(srv, 'GET', '/sources/saml/')).body.results.length, 0);

      const made = await call(srv, 'POST', '/sources/saml/', {
        name: 'IdP',
        slug: 'idp',
        sso_url: `${idp.url}/sso`,
        slo_url: `${idp.url}/slo`,
        pre_authentication_flow: flows['default-source-pre-authentication'],
        authentication_flow: flows['default-source-authentication'],
        enrollment_flow: flows['default-source-enrollment'],
        verification_kp: idpPair.pk,
        signing_kp: spPair.pk,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assertMatches('SAMLSource', made.body);
      sourcePk = made.body.pk;
      assert.equal(made.body.binding_type, 'REDIRECT');
      assert.equal(made.body.name_id_policy, 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');
      assert.equal(made.body.digest_algorithm, 'http://www.w3.org/2001/04/xmlenc#sha256');
      assert.equal(made.body.signature_algorithm, 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
      assert.equal(made.body.temporary_user_delete_after, 'days=1');
      assert.equal(made.body.signed_assertion, true);
      assert.equal(made.body.signed_response, false);
      assert.equal(made.body.group_matching_mode, 'identifier');
      assert.equal(made.body.url_issuer, `${srv.url}/source/saml/idp/metadata/`);
      assert.equal(made.body.component, 'ak-source-saml-form');
      const all = await call(srv, 'GET', '/sources/all/?slug=idp');
      assert.equal(all.body.results[0].meta_model_name, 'authentik_sources_saml.samlsource');
      const types = await call(srv, 'GET', '/sources/all/types/');
      assert.ok(types.body.some((t: { model_name: string }) => t.model_name === 'samlsource'));

      // the SP metadata, through the API and at its URL
      const meta = await call(srv, 'GET', '/sources/saml/idp/metadata/');
      assert.equal(meta.status, 200);
      assertMatches('SAMLMetadata', meta.body);
      assert.match(meta.body.metadata, new RegExp(`entityID="${srv.url}/source/saml/idp/metadata/"`));
      assert.match(
        meta.body.metadata,
        new RegExp(
          `AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${srv.url}/source/saml/idp/acs/"`,
        ),
      );
      assert.match(meta.body.metadata, /<md:KeyDescriptor use="signing">/);
      // the one NameID format the source asks for (its name_id_policy), as authentik's metadata says
      const source = (await call(srv, 'GET', '/sources/saml/idp/')).body;
      assert.deepEqual(
        [...meta.body.metadata.matchAll(/<md:NameIDFormat>([^<]*)<\/md:NameIDFormat>/g)].map((m: RegExpMatchArray) => m[1]),
        [source.name_id_policy],
      );
      assert.match(meta.body.metadata, /AuthnRequestsSigned="true" WantAssertionsSigned="true"/);
      const xml = await fetch(meta.body.download_url);
      assert.equal(xml.status, 200);
      assert.match(xml.headers.get('content-type') ?? '', /text\/xml/);
      assert.equal(await xml.text(), meta.body.metadata);
    });

    it('logs a person in by the redirect binding: a signed request, a signed assertion; enrolled, then recognised', async () => {
      idp.nextUser = {
        nameId: 'alice',
        attributes: { email: ['alice@idp.example'], name: ['Alice Doe'], 'http://schemas.xmlsoap.org/claims/Group': ['staff', 'ops'] },
      };
      const jar = new CookieJar();
      const before = idp.requests.length;
      const final = await runFlow(srv, jar, await throughIdp(jar, 'idp', '?next=%2Fif%2Fuser%2F%23%2Fsettings'));
      assert.equal(final.component, 'xak-flow-redirect', JSON.stringify(final));
      assert.equal(final.to, '/if/user/#/settings');
      const [request] = idp.requests.slice(before);
      assert.equal(request!.binding, 'redirect');
      assert.equal(request!.signatureValid, true);
      assert.equal(request!.sigAlg, 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
      assert.equal(request!.relayState, '/if/user/#/settings');
      assert.match(request!.xml, /<saml:Issuer>http:\/\/127\.0\.0\.1:\d+\/source\/saml\/idp\/metadata\/<\/saml:Issuer>/);
      assert.match(request!.xml, /<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"\/>/);
      const user = await srv.app.store.db.selectFrom('users').selectAll().where('username', '=', 'alice').executeTakeFirstOrThrow();
      assert.equal(user.path, 'goauthentik.io/sources/idp');
      assert.equal(await loggedInAs(srv, jar), user.id);
      const [conn, ...more] = await connectionsOf(srv, sourcePk);
      assert.equal(more.length, 0);
      assert.equal(conn!.identifier, 'alice');
      // the groups the IdP named, made and joined
      const groups = await srv.app.store.db
        .selectFrom('group_source_connections as c')
        .innerJoin('groups as g', 'g.group_uuid', 'c.group_uuid')
        .select('g.name')
        .where('c.source_uuid', '=', sourcePk)
        .orderBy('g.name')
        .execute();
      assert.deepEqual(
        groups.map((g) => g.name),
        ['ops', 'staff'],
      );
      const listed = await call(srv, 'GET', '/sources/user_connections/saml/?source__slug=idp');
      assert.equal(listed.status, 200);
      assertMatches('PaginatedUserSAMLSourceConnectionList', listed.body);
      assert.equal(listed.body.results[0].identifier, 'alice');
      assert.equal((await call(srv, 'GET', '/sources/user_connections/oauth/')).body.results.length, 0);

      // another browser, the same NameID: the authentication flow logs the connected user in; no new user
      const jar2 = new CookieJar();
      const again = await runFlow(srv, jar2, await throughIdp(jar2));
      assert.equal(again.to, '/if/user/');
      assert.equal(await loggedInAs(srv, jar2), user.id);
      assert.equal((await connectionsOf(srv, sourcePk)).length, 1);
    });

    it('connects the identity to whoever is logged in (the settings page’s Connect), without a flow', async () => {
      await createUser(srv, 'gina', 'gina-password-1');
      const gina = await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'gina').executeTakeFirstOrThrow();
      const jar = new CookieJar();
      const login = await jar.json(`${srv.api}/flows/executor/default-authentication-flow/?query=`, 'POST', { uid_field: 'gina' });
      assert.equal(login.status, 200);
      await jar.json(`${srv.api}/flows/executor/default-authentication-flow/?query=`, 'POST', { password: 'gina-password-1' });
      assert.equal(await loggedInAs(srv, jar), gina.id);
      const settings = await jar.json(`${srv.api}/sources/all/user_settings/`);
      const entry = settings.body.find((x: { object_uid: string }) => x.object_uid === 'idp');
      assert.deepEqual(entry, {
        object_uid: 'idp',
        component: 'ak-user-settings-source-saml',
        title: 'IdP',
        configure_url: '/source/saml/idp/',
        icon_url: '/static/authentik/sources/saml.png',
      });
      idp.nextUser = { nameId: 'gina-at-idp' };
      const res = await throughIdp(jar, 'idp', '?next=%2Fif%2Fuser%2F');
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), '/if/user/');
      const conn = (await connectionsOf(srv, sourcePk)).find((c) => c.identifier === 'gina-at-idp');
      assert.equal(Number(conn?.user_id), gina.id);
    });

    it('posts the IdP’s cross-site answer again from its own origin, so the session cookie comes with it', async () => {
      idp.nextUser = { nameId: 'alice' };
      const jar = new CookieJar();
      let res = await fetch(`${srv.url}/source/saml/idp/`, { headers: jar.headers(), redirect: 'manual' });
      jar.keep(res);
      res = await fetch(res.headers.get('location')!, { redirect: 'manual' });
      const { action, fields } = formOf(await res.text());
      // the IdP's POST, without the cookie (a browser sends no SameSite=Lax cookie with it)
      const relay = await postForm(new CookieJar(), action, fields);
      assert.equal(relay.status, 200);
      const page = await relay.text();
      assert.match(relay.headers.get('content-security-policy') ?? '', /script-src 'nonce-/);
      const again = formOf(page);
      assert.equal(again.action, action);
      assert.equal(again.fields.SAMLResponse, fields.SAMLResponse);
      assert.equal(again.fields.ks_relayed, '1');
      // the page's own post, with the cookie: the login goes on
      const final = await runFlow(srv, jar, await postForm(jar, again.action, again.fields));
      assert.equal(final.to, '/if/user/');
      // relayed once only: a second relayed post without a session is not relayed again
      const lost = await postForm(new CookieJar(), action, again.fields);
      assert.equal(lost.status, 400);
      assert.match(await lost.text(), /Missing InResponseTo and IdP-initiated Logins are not allowed/);
    });

    /** a login started here, answered at the ACS with what `make` builds for the request's ID */
    const answered = async (make: (inResponseTo: string) => Promise<string>) => {
      const jar = new CookieJar();
      const res = await fetch(`${srv.url}/source/saml/idp/`, { headers: jar.headers(), redirect: 'manual' });
      jar.keep(res);
      const requestXml = (await fetch(res.headers.get('location')!, { redirect: 'manual' }).then(() => idp.requests.at(-1)!)).xml;
      const id = /ID="([^"]+)"/.exec(requestXml)![1]!;
      return { jar, answer: await postForm(jar, `${srv.url}/source/saml/idp/acs/`, { SAMLResponse: await make(id) }) };
    };
    const refused = async (make: (inResponseTo: string) => Promise<string>, message: RegExp) => {
      const { jar, answer } = await answered(make);
      assert.equal(answer.status, 400);
      assert.match(await answer.text(), message);
      assert.equal(await loggedInAs(srv, jar), null);
    };

    it('refuses a response addressed to another service provider or request (authentik’s response binding)', async () => {
      const acsUrl = `${srv.url}/source/saml/idp/acs/`;
      const other = 'https://other-app.example/acs';
      const user = { nameId: 'alice' };
      const sign = { assertion: true };
      const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
      const HOK = 'urn:oasis:names:tc:SAML:2.0:cm:holder-of-key';
      const notOurs = /not addressed to this service provider/;
      await refused(
        (id) => idp.response({ user, acsUrl, inResponseTo: id, sign, destination: other }),
        /meant for another service provider/,
      );
      await refused((id) => idp.response({ user, acsUrl, inResponseTo: id, sign, confirmations: [] }), notOurs);
      await refused((id) => idp.response({ user, acsUrl, inResponseTo: id, sign, confirmations: [{ data: false }] }), notOurs);
      await refused((id) => idp.response({ user, acsUrl, inResponseTo: id, sign, confirmations: [{ recipient: other }] }), notOurs);
      const otherScheme = acsUrl.replace('http://', 'https://');
      await refused((id) => idp.response({ user, acsUrl, inResponseTo: id, sign, confirmations: [{ recipient: otherScheme }] }), notOurs);
      // another method's confirmation confirms nothing here, even naming this source, or nothing at all
      await refused((id) => idp.response({ user, acsUrl, inResponseTo: id, sign, confirmations: [{ method: HOK }] }), notOurs);
      await refused(
        (id) =>
          idp.response({
            user,
            acsUrl,
            inResponseTo: id,
            sign,
            confirmations: [
              { method: HOK, recipient: null, inResponseTo: null },
              { recipient: other, inResponseTo: '_other' },
            ],
          }),
        notOurs,
      );
      // the assertion answers another request, though the response answers ours
      await refused(
        (id) => idp.response({ user, acsUrl, inResponseTo: id, sign, confirmations: [{ inResponseTo: '_other' }] }),
        /Mismatched request ID/,
      );

      const accepted = async (make: (inResponseTo: string) => Promise<string>) => {
        const { jar, answer } = await answered(make);
        assert.equal(answer.status, 302, answer.status === 302 ? '' : await answer.text());
        assert.equal((await runFlow(srv, jar, answer)).to, '/if/user/');
      };
      // only the case may differ; a confirmation without a method is read; one naming this source among others is enough
      await accepted((id) => idp.response({ user, acsUrl, inResponseTo: id, sign, confirmations: [{ recipient: acsUrl.toUpperCase() }] }));
      await accepted((id) => idp.response({ user, acsUrl, inResponseTo: id, sign, confirmations: [{ method: null }] }));
      await accepted((id) =>
        idp.response({
          user,
          acsUrl,
          inResponseTo: id,
          sign,
          confirmations: [{ method: BEARER, recipient: other, inResponseTo: '_other' }, {}],
        }),
      );
      // a minimal response: no Destination, a confirmation naming neither recipient nor request
      await accepted((id) =>
        idp.response({ user, acsUrl, inResponseTo: id, sign, destination: null, confirmations: [{ recipient: null, inResponseTo: null }] }),
      );
    });

    it('refuses unsigned, tampered, wrapped and foreign-signed responses, and one for another request', async () => {
      const acsUrl = `${srv.url}/source/saml/idp/acs/`;
      const user = { nameId: 'alice' };
      await refused((id) => idp.response({ user, acsUrl, inResponseTo: id, sign: {} }), /No Signature exists in the Assertion element/);
      // signed, then the NameID changed
      await refused(async (id) => {
        const xml = Buffer.from(await idp.response({ user, acsUrl, inResponseTo: id, sign: { assertion: true } }), 'base64').toString();
        return Buffer.from(xml.replace('>alice</saml:NameID>', '>admin</saml:NameID>')).toString('base64');
      }, /Invalid signature/);
      // signature wrapping: the signed assertion kept, a forged one beside it
      await refused(async (id) => {
        const xml = Buffer.from(await idp.response({ user, acsUrl, inResponseTo: id, sign: { assertion: true } }), 'base64').toString();
        const signed = xml.slice(xml.indexOf('<saml:Assertion'), xml.indexOf('</saml:Assertion>') + '</saml:Assertion>'.length);
        const forged = signed.replace('>alice<', '>admin<').replace(/<ds:Signature[\s\S]*<\/ds:Signature>/, '');
        return Buffer.from(xml.replace(signed, `${forged}${signed}`)).toString('base64');
      }, /More than one Assertion element/);
      // the wrapped copy inside the signed one's Extensions-like position: the forged outer assertion carries the signature
      await refused(async (id) => {
        const xml = Buffer.from(await idp.response({ user, acsUrl, inResponseTo: id, sign: { assertion: true } }), 'base64').toString();
        const signed = xml.slice(xml.indexOf('<saml:Assertion'), xml.indexOf('</saml:Assertion>') + '</saml:Assertion>'.length);
        const signature = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(signed)![0];
        const unsigned = signed.replace(signature, '');
        const forged = unsigned.replace('>alice<', '>admin<').replace(/ID="[^"]+"/, 'ID="_evil"');
        const wrapped = forged.replace(
          '</saml:Issuer>',
          `</saml:Issuer>${signature.replace('</ds:Signature>', `<ds:Object>${unsigned}</ds:Object></ds:Signature>`)}`,
        );
        return Buffer.from(xml.replace(signed, wrapped)).toString('base64');
      }, /signature does not cover|Invalid signature/);
      // signed by another key
      const other = await keyPair(srv, 'other');
      const stranger = new FakeSamlIdp(other.key, other.cert);
      await refused((id) => stranger.response({ user, acsUrl, inResponseTo: id, sign: { assertion: true } }), /Invalid signature/);
      // an answer to another request, and an unsolicited one
      await refused((_id) => idp.response({ user, acsUrl, inResponseTo: '_another', sign: { assertion: true } }), /Mismatched request ID/);
      await refused((_id) => idp.response({ user, acsUrl, inResponseTo: null, sign: { assertion: true } }), /Missing InResponseTo/);
      // the IdP's refusal, an expired assertion, another audience
      await refused((id) => idp.response({ user, acsUrl, inResponseTo: id, refuse: 'Access denied by policy' }), /Access denied by policy/);
      await refused(
        (id) => idp.response({ user, acsUrl, inResponseTo: id, sign: { assertion: true }, notOnOrAfter: new Date(Date.now() - 3_600_000) }),
        /has expired/,
      );
      await refused(
        (id) => idp.response({ user, acsUrl, inResponseTo: id, sign: { assertion: true }, audience: 'https://other-sp.example/' }),
        /meant for another service provider/,
      );
      // with signed_response: the response's own signature is required and checked
      await updateSource({ signed_response: true, signed_assertion: false });
      await refused(
        (id) => idp.response({ user, acsUrl, inResponseTo: id, sign: { assertion: true } }),
        /No Signature exists in the Response element/,
      );
      await refused(async (id) => {
        const xml = Buffer.from(await idp.response({ user, acsUrl, inResponseTo: id, sign: { response: true } }), 'base64').toString();
        return Buffer.from(xml.replace('>alice</saml:NameID>', '>admin</saml:NameID>')).toString('base64');
      }, /Invalid signature/);
      idp.respond = { sign: { response: true }, audience: `${srv.url}/source/saml/idp/metadata/` };
      const jar = new CookieJar();
      assert.equal((await runFlow(srv, jar, await throughIdp(jar))).to, '/if/user/');
      idp.respond = { sign: { assertion: true } };
      await updateSource({ signed_response: false, signed_assertion: true });
      assert.equal((await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'admin').execute()).length, 0);
    });

    it('opens encrypted assertions with the encryption key pair, and refuses plain ones then', async () => {
      await updateSource({ encryption_kp: spPair.pk });
      idp.nextUser = { nameId: 'alice' };
      idp.respond = { sign: { assertion: true }, encryptFor: spPair.cert };
      const jar = new CookieJar();
      assert.equal((await runFlow(srv, jar, await throughIdp(jar))).to, '/if/user/');
      const meta = await call(srv, 'GET', '/sources/saml/idp/metadata/');
      assert.match(meta.body.metadata, /<md:KeyDescriptor use="encryption">/);
      idp.respond = { sign: { assertion: true } };
      const plain = await throughIdp(new CookieJar());
      assert.equal(plain.status, 400);
      assert.match(await plain.text(), /The assertion is not encrypted/);
      await updateSource({ encryption_kp: null });
    });

    it('accepts IdP-initiated logins only when allowed, and each response once', async () => {
      const acsUrl = `${srv.url}/source/saml/idp/acs/`;
      const unsolicited = await idp.response({ user: { nameId: 'alice' }, acsUrl, inResponseTo: null, sign: { assertion: true } });
      const jar = new CookieJar({});
      // (a browser with a session: the cookie comes with the first post)
      await fetch(`${srv.url}/`, { headers: jar.headers(), redirect: 'manual' });
      const refused = await postForm(jar, acsUrl, { SAMLResponse: unsolicited, ks_relayed: '1' });
      assert.equal(refused.status, 400);
      await updateSource({ allow_idp_initiated: true });
      const jar2 = new CookieJar();
      assert.equal(
        (await runFlow(srv, jar2, await postForm(jar2, acsUrl, { SAMLResponse: unsolicited, ks_relayed: '1' }))).to,
        '/if/user/',
      );
      // the same response again — from another browser, as a stolen one would come — is a replay
      const jar3 = new CookieJar();
      const replay = await postForm(jar3, acsUrl, { SAMLResponse: unsolicited, ks_relayed: '1' });
      assert.equal(replay.status, 400);
      assert.match(await replay.text(), /Replay attack detected/);
      const seen = await srv.app.store.db
        .selectFrom('saml_seen_responses')
        .select('response_id')
        .where('source_uuid', '=', sourcePk)
        .execute();
      assert.ok(seen.length >= 2);
      await updateSource({ allow_idp_initiated: false });
    });

    it('POST bindings: a signed request in a form, posted at once (POST_AUTO) or on the person’s click (POST)', async () => {
      await updateSource({ binding_type: 'POST_AUTO' });
      const jar = new CookieJar();
      const page = await fetch(`${srv.url}/source/saml/idp/`, { headers: jar.headers(), redirect: 'manual' });
      jar.keep(page);
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /document\.forms\[0\]\.submit\(\)/);
      const { action, fields } = formOf(html);
      assert.equal(action, `${idp.url}/sso`);
      const request = Buffer.from(fields.SAMLRequest!, 'base64').toString();
      assert.match(request, /<ds:Signature/);
      // the IdP checks the enveloped signature, answers; the login completes
      const answer = await fetch(action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      });
      assert.equal(idp.requests.at(-1)!.binding, 'post');
      assert.equal(idp.requests.at(-1)!.signatureValid, true);
      const back = formOf(await answer.text());
      assert.equal((await runFlow(srv, jar, await postForm(jar, back.action, back.fields))).to, '/if/user/');

      await updateSource({ binding_type: 'POST' });
      const asked = await fetch(`${srv.url}/source/saml/idp/`, { redirect: 'manual' });
      const askedHtml = await asked.text();
      assert.doesNotMatch(askedHtml, /<script/);
      assert.match(askedHtml, /Continue to IdP/);

      // a pre-authentication flow with a stage runs first; its end leads to the request, which nothing else opens
      const dummy = await call(srv, 'POST', '/stages/dummy/', { name: 'saml-pre-dummy' });
      const pre = await call(srv, 'POST', '/flows/instances/', {
        name: 'saml-pre',
        slug: 'saml-pre',
        title: 'Before the IdP',
        designation: 'stage_configuration',
      });
      await call(srv, 'POST', '/flows/bindings/', { target: pre.body.pk, stage: dummy.body.pk, order: 0 });
      await updateSource({ pre_authentication_flow: pre.body.pk });
      const pj = new CookieJar();
      const start = await fetch(`${srv.url}/source/saml/idp/`, { headers: pj.headers(), redirect: 'manual' });
      pj.keep(start);
      assert.equal(start.status, 302);
      assert.equal(start.headers.get('location'), '/if/flow/saml-pre/');
      const forged = await fetch(`${srv.url}/source/saml/idp/?preauth=guess`, { headers: pj.headers(), redirect: 'manual' });
      pj.keep(forged);
      assert.equal(forged.status, 302);
      assert.equal(forged.headers.get('location'), '/if/flow/saml-pre/');
      const shown = await pj.json(`${srv.api}/flows/executor/saml-pre/?query=`);
      assert.equal(shown.body.component, 'ak-stage-dummy');
      const done = await pj.json(`${srv.api}/flows/executor/saml-pre/?query=`, 'POST', { component: 'ak-stage-dummy' });
      assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      assert.match(done.body.to, /^\/source\/saml\/idp\/\?preauth=/);
      const form = await fetch(`${srv.url}${done.body.to}`, { headers: pj.headers(), redirect: 'manual' });
      assert.equal(form.status, 200);
      assert.match(await form.text(), /name="SAMLRequest"/);
      await updateSource({ binding_type: 'REDIRECT', pre_authentication_flow: flows['default-source-pre-authentication'] });
    });

    it('transient NameIDs: an identifying attribute when sent, else a temporary user deleted after its time', async () => {
      const transient = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';
      idp.nextUser = { nameId: 'tmp-9f2c', format: transient };
      const jar = new CookieJar();
      await runFlow(srv, jar, await throughIdp(jar));
      const temp = await srv.app.store.db.selectFrom('users').selectAll().where('username', '=', 'tmp-9f2c').executeTakeFirstOrThrow();
      const attributes = JSON.parse(String(temp.attributes));
      assert.equal(attributes['goauthentik.io/user/generated'], true);
      assert.equal(typeof attributes['goauthentik.io/user/transient-token'], 'string');
      const expires = attributes['goauthentik.io/user/expires'] as number;
      assert.ok(Math.abs(expires - (Date.now() / 1000 + 86_400)) < 120, String(expires));
      assert.equal(await purgeExpiredTemporaryUsers(srv.app.store.db), 0);
      assert.equal(await purgeExpiredTemporaryUsers(srv.app.store.db, (expires + 1) * 1000), 1);
      assert.equal((await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'tmp-9f2c').execute()).length, 0);
      assert.equal(
        (await srv.app.store.db.selectFrom('sessions').select('session_key').where('user_id', '=', temp.id).execute()).length,
        0,
      );

      // an eduPersonPrincipalName identifies the person across transient NameIDs
      idp.nextUser = { nameId: 'tmp-1', format: transient, attributes: { 'urn:oid:1.3.6.1.4.1.5923.1.1.1.6': ['bob@idp.example'] } };
      const j1 = new CookieJar();
      await runFlow(srv, j1, await throughIdp(j1));
      idp.nextUser = { nameId: 'tmp-2', format: transient, attributes: { 'urn:oid:1.3.6.1.4.1.5923.1.1.1.6': ['bob@idp.example'] } };
      const j2 = new CookieJar();
      await runFlow(srv, j2, await throughIdp(j2));
      assert.equal(await loggedInAs(srv, j1), await loggedInAs(srv, j2));
      const conn = (await connectionsOf(srv, sourcePk)).filter((c) => c.identifier === 'bob@idp.example');
      assert.equal(conn.length, 1);
    });

    it('runs SAML property mappings (authentik’s Python) with `root` and `name_id`; a failing one refuses', async () => {
      const mapping = await call(srv, 'POST', '/propertymappings/source/saml/', {
        name: 'saml name',
        expression: `issuer = root.find("{${NS_SAML}}Assertion").find("{${NS_SAML}}Issuer").text
return {"name": name_id.text.upper(), "attributes": {"format": name_id.attrib["Format"], "issuer": issuer}}`,
      });
      assert.equal(mapping.status, 201, JSON.stringify(mapping.body));
      assertMatches('SAMLSourcePropertyMapping', mapping.body);
      assert.equal(mapping.body.component, 'ak-property-mapping-source-saml-form');
      const slug = 'idp-mapped';
      const made = await call(srv, 'POST', '/sources/saml/', {
        name: 'Mapped IdP',
        slug,
        sso_url: `${idp.url}/sso`,
        pre_authentication_flow: flows['default-source-pre-authentication'],
        authentication_flow: flows['default-source-authentication'],
        enrollment_flow: flows['default-source-enrollment'],
        verification_kp: idpPair.pk,
        user_property_mappings: [mapping.body.pk],
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      // (a mapping of another kind is not a SAML mapping)
      const oauthMapping = await call(srv, 'POST', '/propertymappings/source/oauth/', { name: 'o', expression: 'return {}' });
      const wrongKind = await call(srv, 'PATCH', `/sources/saml/${slug}/`, { user_property_mappings: [oauthMapping.body.pk] });
      assert.equal(wrongKind.status, 400);
      assert.deepEqual(Object.keys(wrongKind.body), ['user_property_mappings']);
      idp.nextUser = { nameId: 'carol' };
      const jar = new CookieJar();
      await runFlow(srv, jar, await throughIdp(jar, slug));
      const carol = await srv.app.store.db.selectFrom('users').selectAll().where('username', '=', 'carol').executeTakeFirstOrThrow();
      assert.equal(carol.name, 'CAROL');
      const attributes = JSON.parse(String(carol.attributes));
      assert.equal(attributes.format, 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');
      assert.equal(attributes.issuer, idp.entityId);

      await call(srv, 'PATCH', `/propertymappings/source/saml/${mapping.body.pk}/`, { expression: 'return {"name": root.missing()}' });
      const failed = await throughIdp(new CookieJar(), slug);
      assert.equal(failed.status, 400);
      assert.match(
        await failed.text(),
        /Failed to evaluate property mapping: &#39;saml name&#39;|Failed to evaluate property mapping: 'saml name'/,
      );
      const events = await srv.app.store.db.selectFrom('events').select('context').where('action', '=', 'configuration_error').execute();
      assert.ok(events.some((e) => String(e.context).includes('samlsourcepropertymapping')));
    });

    it('shows the source on an identification stage; logs out through slo/; a disabled source answers 404', async () => {
      const stage = await call(srv, 'POST', '/stages/identification/', { name: 'saml-id', user_fields: ['username'], sources: [sourcePk] });
      assert.equal(stage.status, 201, JSON.stringify(stage.body));
      const flow = await call(srv, 'POST', '/flows/instances/', {
        name: 'saml-login',
        slug: 'saml-login',
        title: 'x',
        designation: 'authentication',
      });
      await call(srv, 'POST', '/flows/bindings/', { target: flow.body.pk, stage: stage.body.pk, order: 0 });
      const jar = new CookieJar();
      const challenge = (await jar.json(`${srv.api}/flows/executor/saml-login/?query=`)).body;
      assert.equal(challenge.component, 'ak-stage-identification');
      const button = challenge.sources.find((s: { name: string }) => s.name === 'IdP');
      assert.deepEqual(button.challenge, { component: 'xak-flow-redirect', to: '/source/saml/idp/' });

      idp.nextUser = { nameId: 'alice' };
      const j = new CookieJar();
      await runFlow(srv, j, await throughIdp(j));
      assert.notEqual(await loggedInAs(srv, j), null);
      // logging out here: the session ends, and the IdP gets a signed LogoutRequest for the person's NameID
      const sessionGone = async (key: string | undefined) =>
        (
          await srv.app.store.db
            .selectFrom('sessions')
            .select('session_key')
            .where('session_key', '=', sessionKeyOf(key ?? ''))
            .execute()
        ).length === 0;
      const out = await fetch(`${srv.url}/source/saml/idp/slo/`, { headers: j.headers(), redirect: 'manual' });
      assert.equal(out.status, 302);
      const to = new URL(out.headers.get('location')!);
      assert.equal(`${to.origin}${to.pathname}`, `${idp.url}/slo`);
      const logoutRequest = inflateRawSync(Buffer.from(to.searchParams.get('SAMLRequest')!, 'base64')).toString();
      assert.match(logoutRequest, /^<samlp:LogoutRequest /);
      assert.match(logoutRequest, new RegExp(`Destination="${idp.url}/slo"`));
      assert.match(logoutRequest, /<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">alice<\/saml:NameID>/);
      const raw = to.search.slice(1);
      const signed = Buffer.from(raw.slice(0, raw.indexOf('&Signature=')));
      assert.ok(verify('sha256', signed, createPublicKey(spPair.cert), Buffer.from(to.searchParams.get('Signature')!, 'base64')));
      assert.ok(await sessionGone(j.cookies.get('authentik_session')));

      // the IdP logging the person out: their session here ends, and the IdP gets the LogoutResponse
      const k = new CookieJar();
      await runFlow(srv, k, await throughIdp(k));
      const idpRequest = deflateRawSync(
        Buffer.from(
          `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="${NS_SAML}" ID="_idp-logout-1" Version="2.0" IssueInstant="${new Date().toISOString()}"><saml:Issuer>${idp.entityId}</saml:Issuer><saml:NameID>alice</saml:NameID></samlp:LogoutRequest>`,
        ),
      ).toString('base64');
      const idpOut = await fetch(`${srv.url}/source/saml/idp/slo/?SAMLRequest=${encodeURIComponent(idpRequest)}&RelayState=back-to-idp`, {
        headers: k.headers(),
        redirect: 'manual',
      });
      assert.equal(idpOut.status, 302);
      const answerUrl = new URL(idpOut.headers.get('location')!);
      assert.equal(`${answerUrl.origin}${answerUrl.pathname}`, `${idp.url}/slo`);
      assert.equal(answerUrl.searchParams.get('RelayState'), 'back-to-idp');
      const logoutResponse = inflateRawSync(Buffer.from(answerUrl.searchParams.get('SAMLResponse')!, 'base64')).toString();
      assert.match(logoutResponse, /InResponseTo="_idp-logout-1"/);
      assert.match(logoutResponse, /urn:oasis:names:tc:SAML:2.0:status:Success/);
      assert.ok(await sessionGone(k.cookies.get('authentik_session')));
      // the IdP's LogoutResponse to Keystage's request: home; a LogoutRequest that is no XML: 400
      const back = await fetch(`${srv.url}/source/saml/idp/slo/?SAMLResponse=x`, { redirect: 'manual' });
      assert.equal(back.headers.get('location'), '/');
      const garbage = await fetch(`${srv.url}/source/saml/idp/slo/?SAMLRequest=bm90LXhtbA%3D%3D`, { redirect: 'manual' });
      assert.equal(garbage.status, 400);

      // deleting the verification certificate disables the source rather than leaving it accepting unsigned answers
      const doomed = await keyPair(srv, 'doomed-idp');
      await updateSource({ verification_kp: doomed.pk }, 'idp-mapped');
      const used = await call(srv, 'GET', `/crypto/certificatekeypairs/${doomed.pk}/used_by/`);
      assert.deepEqual(
        used.body.map((u: { model_name: string; name: string; action: string }) => [u.model_name, u.name, u.action]),
        [['samlsource', 'Mapped IdP', 'set_null']],
      );
      assert.equal((await call(srv, 'DELETE', `/crypto/certificatekeypairs/${doomed.pk}/`)).status, 204);
      const after = (await call(srv, 'GET', '/sources/saml/idp-mapped/')).body;
      assert.equal(after.verification_kp, null);
      assert.equal(after.enabled, false);
      assert.equal((await fetch(`${srv.url}/source/saml/idp-mapped/`, { redirect: 'manual' })).status, 404);

      await updateSource({ enabled: false });
      assert.equal((await fetch(`${srv.url}/source/saml/idp/`, { redirect: 'manual' })).status, 404);
      await updateSource({ enabled: true });
      // deleting the source removes its connections and its place on the stage
      assert.equal((await call(srv, 'DELETE', '/sources/saml/idp-mapped/')).status, 204);
      assert.equal((await call(srv, 'DELETE', '/sources/saml/idp/')).status, 204);
      assert.equal((await connectionsOf(srv, sourcePk)).length, 0);
      assert.deepEqual((await call(srv, 'GET', `/stages/identification/${stage.body.pk}/`)).body.sources, []);
    });
  });
}
