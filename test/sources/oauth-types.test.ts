/**
 * The OAuth source types with fixed URLs at the provider's own hosts — Apple, Facebook, Patreon, Reddit, Slack, Twitter, WeChat (authentik's
 * `authentik/sources/oauth/types/`): what each authorization request asks for (read without following it: nothing
 * leaves 127.0.0.1), how each client authenticates at the token URL, each profile's identifier and user properties
 * from the provider's documented payloads, Slack's nested user token and WeChat's GET exchange with a server on 127.0.0.1, and
 * Apple's signed client secret, ID-token profile and form-posted answer.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { CookieJar } from '../helpers/cookie-jar.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { FakeOidc } from '../helpers/fake-oidc.js';
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import { sourceType } from '../../src/sources/oauth/types.js';
import { authorizationRedirect, exchangeCode, fetchProfile } from '../../src/sources/oauth/client.js';

/** a source's client settings for the fake server's client */
const clientOf = (fake: FakeOidc, authorization_code_auth_method: string) => ({
  consumer_key: fake.clientId,
  consumer_secret: fake.clientSecret,
  pkce: 'none',
  authorization_code_auth_method,
  additional_scopes: '',
});

/** a code the fake server's authorization endpoint gives for its next user */
async function codeFrom(fake: FakeOidc, cfg: ReturnType<typeof clientOf>): Promise<string> {
  const res = await fetch(authorizationRedirect(`${fake.url}/authorize`, cfg, 'http://127.0.0.1/cb/', '').url, { redirect: 'manual' });
  return new URL(res.headers.get('location')!).searchParams.get('code')!;
}

for (const dialect of dialects()) {
  describe(`OAuth source types with fixed URLs (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv.close());

    const authorizeOf = async (slug: string, provider_type: string, extra: Record<string, unknown> = {}) => {
      const r = await call(srv, 'POST', '/sources/oauth/', {
        name: slug,
        slug,
        provider_type,
        consumer_key: 'ck',
        consumer_secret: 'cs',
        ...extra,
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assertMatches('OAuthSource', r.body);
      const res = await fetch(`${srv.url}/source/oauth/login/${slug}/`, { headers: new CookieJar().headers(), redirect: 'manual' });
      assert.equal(res.status, 302);
      return { source: r.body, to: new URL(res.headers.get('location')!) };
    };

    it('each type’s authorization request and token authentication, as authentik’s', async () => {
      const fb = await authorizeOf('t-facebook', 'facebook');
      assert.equal(fb.to.origin + fb.to.pathname, 'https://www.facebook.com/v7.0/dialog/oauth');
      assert.equal(fb.to.searchParams.get('scope'), 'email');
      assert.equal(fb.source.authorization_code_auth_method, 'post_body');
      assert.equal(fb.source.type.profile_url, 'https://graph.facebook.com/v7.0/me?fields=id,name,email');

      const pat = await authorizeOf('t-patreon', 'patreon');
      assert.equal(pat.to.origin + pat.to.pathname, 'https://www.patreon.com/oauth2/authorize');
      assert.equal(pat.to.searchParams.get('scope'), 'identity identity[email]');
      assert.equal(pat.source.authorization_code_auth_method, 'post_body');

      // Discord: prompt=none, so someone who authorised the application before is not asked again
      const dc = await authorizeOf('t-discord', 'discord');
      assert.equal(dc.to.origin + dc.to.pathname, 'https://discord.com/api/oauth2/authorize');
      assert.deepEqual([dc.to.searchParams.get('scope'), dc.to.searchParams.get('prompt')], ['email identify', 'none']);

      const red = await authorizeOf('t-reddit', 'reddit');
      assert.equal(red.to.origin + red.to.pathname, 'https://www.reddit.com/api/v1/authorize');
      assert.deepEqual([red.to.searchParams.get('scope'), red.to.searchParams.get('duration')], ['identity', 'permanent']);
      assert.equal(red.source.authorization_code_auth_method, 'basic_auth');

      // Slack: the person's scopes in user_scope (scope is for bot tokens); additional scopes join them, a `*` dropped
      const sl = await authorizeOf('t-slack', 'slack', { additional_scopes: '*admin' });
      assert.equal(sl.to.origin + sl.to.pathname, 'https://slack.com/oauth/v2/authorize');
      assert.equal(sl.to.searchParams.get('scope'), null);
      assert.equal(sl.to.searchParams.get('user_scope'), 'openid email profile admin');
      // X (Twitter): PKCE always, S256 unless the source says plain; HTTP Basic at the token URL
      const tw = await authorizeOf('t-twitter', 'twitter');
      assert.equal(tw.to.origin + tw.to.pathname, 'https://twitter.com/i/oauth2/authorize');
      assert.deepEqual(
        [tw.to.searchParams.get('scope'), tw.to.searchParams.get('code_challenge_method')],
        ['users.read tweet.read', 'S256'],
      );
      assert.match(tw.to.searchParams.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
      assert.equal(tw.source.authorization_code_auth_method, 'basic_auth');
      const twPlain = await authorizeOf('t-twitter-plain', 'twitter', { pkce: 'plain' });
      assert.equal(twPlain.to.searchParams.get('code_challenge_method'), 'plain');
      // WeChat: the app id as WeChat names it, the QR code scope, its fragment
      const wc = await authorizeOf('t-wechat', 'wechat');
      assert.equal(wc.to.origin + wc.to.pathname, 'https://open.weixin.qq.com/connect/qrconnect');
      assert.deepEqual(
        [wc.to.searchParams.get('appid'), wc.to.searchParams.get('scope'), wc.to.hash],
        ['ck', 'snsapi_login', '#wechat_redirect'],
      );
      // the types' URLs are fixed: a source's own are not used
      const types = await call(srv, 'GET', '/sources/oauth/source_types/');
      for (const name of ['facebook', 'patreon', 'reddit', 'slack', 'twitter', 'wechat'])
        assert.equal(types.body.find((t: { name: string }) => t.name === name).urls_customizable, false, name);
    });

    it('identifiers and user properties from each provider’s profile', () => {
      const cases: [string, Record<string, unknown>, string, Record<string, unknown>][] = [
        [
          'facebook',
          { id: '10158', name: 'Fay Book', email: 'fay@example.com' },
          '10158',
          { username: 'Fay Book', email: 'fay@example.com', name: 'Fay Book' },
        ],
        [
          'patreon',
          { data: { id: '3141', type: 'user', attributes: { vanity: 'pat', email: 'pat@example.com', full_name: 'Pat Ron' } } },
          '3141',
          { username: 'pat', email: 'pat@example.com', name: 'Pat Ron' },
        ],
        [
          'twitter',
          { data: { id: '2244994945', name: 'X Dev', username: 'XDevelopers' } },
          '2244994945',
          { username: 'XDevelopers', email: undefined, name: 'X Dev' },
        ],
        [
          'reddit',
          { id: 't2_abc', name: 'redditor', icon_img: '' },
          't2_abc',
          { username: 'redditor', email: undefined, name: 'redditor' },
        ],
        [
          'slack',
          { ok: true, sub: 'U0R7JM', 'https://slack.com/user_id': 'U0R7JM', name: 'Sam Slack', email: 'sam@example.com' },
          'U0R7JM',
          { username: 'Sam Slack', email: 'sam@example.com', name: 'Sam Slack' },
        ],
      ];
      for (const [name, profile, id, props] of cases) {
        const t = sourceType(name)!;
        assert.equal(t.identifier(profile), id, name);
        const { groups, ...rest } = t.properties(profile);
        assert.deepEqual(rest, props, name);
        assert.deepEqual(groups, [], name);
      }
      // no identifier, no login
      assert.equal(sourceType('patreon')!.identifier({ errors: [{ code: 1 }] }), undefined);
    });

    it('Slack’s nested user token: exchanged at an OAuth server on 127.0.0.1, then the profile fetched with it', async () => {
      const fake = await new FakeOidc().start();
      try {
        fake.nextUser = { sub: 'U0SLACK', name: 'Sam Slack', email: 'sam@example.com' };
        const slack = sourceType('slack')!;
        const cfg = clientOf(fake, 'basic_auth');
        // without the type's normalisation there is no top-level token
        assert.deepEqual(await exchangeCode(`${fake.url}/slack/token`, cfg, await codeFrom(fake, cfg), 'http://127.0.0.1/cb/', undefined), {
          ok: false,
          reason: 'Could not retrieve token.',
        });
        const exchanged = await exchangeCode(
          `${fake.url}/slack/token`,
          cfg,
          await codeFrom(fake, cfg),
          'http://127.0.0.1/cb/',
          undefined,
          slack.normalizeToken,
        );
        assert.equal(exchanged.ok, true);
        const token = (exchanged as { token: Record<string, unknown> }).token;
        assert.deepEqual([token.token_type, token.id], ['Bearer', 'U123']);
        const profile = await fetchProfile(`${fake.url}/userinfo`, token);
        assert.equal(slack.identifier(profile!), 'U0SLACK');
        assert.equal(fake.requests.at(-1)!.authorization, `Bearer ${String(token.access_token)}`);
      } finally {
        await fake.close();
      }
    });

    it('Apple: the services id as client, a client secret signed with the source’s key, the ID token as profile, the form post sent on', async () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const key = 'com.example.web; TEAM123 ;KEY456';
      const ap = await authorizeOf('t-apple', 'apple', { consumer_key: key, consumer_secret: pem });
      assert.equal(ap.to.origin + ap.to.pathname, 'https://appleid.apple.com/auth/authorize');
      assert.deepEqual(
        [ap.to.searchParams.get('client_id'), ap.to.searchParams.get('scope'), ap.to.searchParams.get('response_mode')],
        ['com.example.web', 'name email', 'form_post'],
      );
      assert.equal(ap.source.authorization_code_auth_method, 'post_body');

      const apple = sourceType('apple')!;
      const secret = await apple.clientSecret!(key, pem);
      assert.deepEqual(decodeProtectedHeader(secret), { alg: 'ES256', kid: 'KEY456' });
      const spki = await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'ES256');
      const { payload } = await jwtVerify(secret, spki, {
        issuer: 'TEAM123',
        subject: 'com.example.web',
        audience: 'https://appleid.apple.com',
      });
      assert.ok(payload.exp! - payload.iat! <= 300);
      await assert.rejects(apple.clientSecret!('only-one-part', pem), /services_id_identifier;apple_team_id;key_id/);

      const idToken = await new SignJWT({ email: 'ann@privaterelay.appleid.com', email_verified: true })
        .setProtectedHeader({ alg: 'ES256' })
        .setSubject('001234.abcd')
        .setIssuer('https://appleid.apple.com')
        .sign(privateKey);
      const profile = apple.profileFromToken!({ access_token: 'a', id_token: idToken })!;
      assert.equal(apple.identifier(profile), '001234.abcd');
      assert.equal(apple.properties(profile).email, 'ann@privaterelay.appleid.com');
      assert.equal(apple.profileFromToken!({ access_token: 'a' }), undefined);

      // Apple posts its answer from its own site: it is sent on as a GET (which carries the session cookie), without
      // what Apple adds about the person
      const posted = await fetch(`${srv.url}/source/oauth/callback/t-apple/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ code: 'c0de', state: 's7ate', user: JSON.stringify({ name: { firstName: 'Ann' }, email: 'x@y' }) }),
        redirect: 'manual',
      });
      assert.equal(posted.status, 303);
      assert.equal(posted.headers.get('location'), '/source/oauth/callback/t-apple/?code=c0de&state=s7ate');
      // and the GET without the state it started with is refused
      const got = await fetch(`${srv.url}${posted.headers.get('location')}`, { redirect: 'manual' });
      assert.equal(got.status, 400);
    });

    it('WeChat: the code exchanged by a GET, the profile asked with the open id; its errors refuse', async () => {
      const fake = await new FakeOidc().start();
      try {
        fake.nextUser = { sub: '42', name: 'Wei Chen' };
        const wechat = sourceType('wechat')!;
        const cfg = clientOf(fake, 'post_body');
        const exchanged = await wechat.exchange!(`${fake.url}/wechat/token`, cfg, await codeFrom(fake, cfg));
        assert.equal(exchanged.ok, true);
        const token = (exchanged as { token: Record<string, unknown> }).token;
        assert.equal(token.openid, 'o-42');
        const profile = await fetchProfile(wechat.profileRequestUrl!(`${fake.url}/wechat/userinfo`, token), token);
        assert.equal(wechat.identifier(profile!), 'u-42');
        assert.deepEqual(wechat.properties(profile!), {
          username: 'u-42',
          email: undefined,
          name: 'Wei Chen',
          groups: [],
          attributes: { headimgurl: '', sex: 0, city: '', province: '', country: '', unionid: 'u-42', openid: 'o-42' },
        });
        // a code used twice, a wrong secret: WeChat's errcode answers refuse
        assert.deepEqual(await wechat.exchange!(`${fake.url}/wechat/token`, cfg, 'used'), { ok: false, reason: 'invalid code' });
        assert.deepEqual(
          await wechat.exchange!(`${fake.url}/wechat/token`, { ...cfg, consumer_secret: 'wrong' }, await codeFrom(fake, cfg)),
          {
            ok: false,
            reason: 'invalid appsecret',
          },
        );
        assert.equal(wechat.identifier({ errcode: 40003, errmsg: 'invalid openid' }), undefined);
      } finally {
        await fake.close();
      }
    });
  });
}
