/**
 * OAuth sources (authentik's authentik/sources/oauth and authentik/core/sources): the admin API through the official
 * client (`SourcesApi`), the discovery of a source's URLs from its well-known document, and a person logging in
 * through a fake OpenID Connect provider on 127.0.0.1 — enrolled the first time, logged in as the same user the next,
 * linked to an existing user by e-mail (`email_link`) or refused (`email_deny`), a second identity linked to whoever
 * is logged in — with the state checked once, the code exchanged with Basic client authentication and PKCE, the
 * connection stored with its access token sealed, and the identification stage showing the source's button.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { SourcesApi } from '@goauthentik/api/dist/apis/SourcesApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { CookieJar } from '../helpers/cookie-jar.js';
import { createStage, createUser, flowOf } from '../helpers/flows.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { failure } from '../rest/contract/client.js';
import { FakeOidc, type FakeUser } from '../helpers/fake-oidc.js';
import { connectionsOf, loggedInAs, runFlow } from '../helpers/sources.js';

/** a browser going through the source: Keystage → the provider → the callback; the callback's answer */
async function throughSource(srv: TestServer, jar: CookieJar, slug: string, query = ''): Promise<Response> {
  let res = await fetch(`${srv.url}/source/oauth/login/${slug}/${query}`, { headers: jar.headers(), redirect: 'manual' });
  jar.keep(res);
  assert.equal(res.status, 302);
  res = await fetch(res.headers.get('location')!, { redirect: 'manual' });
  assert.equal(res.status, 302);
  const back = res.headers.get('location')!;
  assert.ok(back.startsWith(`${srv.url}/source/oauth/callback/${slug}/`), back);
  res = await fetch(back, { headers: jar.headers(), redirect: 'manual' });
  jar.keep(res);
  return res;
}

for (const dialect of dialects()) {
  describe(`OAuth sources (${dialect})`, () => {
    let srv: TestServer;
    let fake: FakeOidc;
    let sources: SourcesApi;
    let sourcePk: string;
    let enrollFlow: string;
    let authFlow: string;
    before(async () => {
      [srv, fake] = await Promise.all([startServer(dialect), new FakeOidc().start()]);
      sources = new SourcesApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      const login = await createStage(srv, '/stages/user_login/', { name: 'src-login' });
      const write = await createStage(srv, '/stages/user_write/', { name: 'src-write' });
      await flowOf(srv, 'src-auth', [login]);
      await flowOf(srv, 'src-enroll', [write, login], { designation: 'enrollment' });
      authFlow = (await call(srv, 'GET', '/flows/instances/src-auth/')).body.pk;
      enrollFlow = (await call(srv, 'GET', '/flows/instances/src-enroll/')).body.pk;
    });
    after(async () => Promise.all([srv.close(), fake.close()]));

    it('creates a source through the official client; the well-known document fills its URLs and JWKS', async () => {
      const created = await sources.sourcesOauthCreateRaw({
        oAuthSourceRequest: {
          name: 'Fake IdP',
          slug: 'fake-idp',
          providerType: 'openidconnect' as never,
          consumerKey: fake.clientId,
          consumerSecret: fake.clientSecret,
          oidcWellKnownUrl: `${fake.url}/.well-known/openid-configuration`,
          pkce: 'S256' as never,
          authenticationFlow: authFlow,
          enrollmentFlow: enrollFlow,
        },
      });
      assert.equal(created.raw.status, 201);
      const body = await created.raw.json();
      assertMatches('OAuthSource', body);
      sourcePk = body.pk;
      assert.equal(body.authorization_url, `${fake.url}/authorize`);
      assert.equal(body.access_token_url, `${fake.url}/token`);
      assert.equal(body.profile_url, `${fake.url}/userinfo`);
      assert.equal(body.oidc_jwks_url, `${fake.url}/jwks`);
      assert.deepEqual(body.oidc_jwks, { keys: [{ kty: 'oct', kid: 'fake', k: 'c2VjcmV0' }] });
      assert.equal(body.callback_url, `${srv.url}/source/oauth/callback/fake-idp/`);
      assert.equal(body.type.name, 'openidconnect');
      assert.equal(body.user_matching_mode, 'identifier');
      assert.equal(body.authorization_code_auth_method, 'basic_auth');
      assert.equal(body.component, 'ak-source-oauth-form');
      assert.equal(body.meta_model_name, 'authentik_sources_oauth.oauthsource');
      assert.equal('consumer_secret' in body, false);
      // sealed at rest
      const row = await srv.app.store.db
        .selectFrom('oauth_sources')
        .selectAll()
        .where('source_uuid', '=', sourcePk)
        .executeTakeFirstOrThrow();
      assert.ok(row.consumer_secret.startsWith('enc:v1:'));
      assert.equal(row.consumer_secret.includes(fake.clientSecret), false);
      // the client reads it back; /sources/all/ lists it as a base Source
      const got = await sources.sourcesOauthRetrieve({ slug: 'fake-idp' });
      assert.equal(got.pk, sourcePk);
      const all = await call(srv, 'GET', '/sources/all/?slug=fake-idp');
      assert.equal(all.status, 200);
      assertMatches('PaginatedSourceList', all.body);
      assert.equal(all.body.results[0].verbose_name, 'OAuth Source');
      const types = await call(srv, 'GET', '/sources/oauth/source_types/');
      assert.ok(types.body.some((t: { name: string }) => t.name === 'openidconnect'));
      const filtered = await call(srv, 'GET', '/sources/oauth/?provider_type=openidconnect&has_jwks=true');
      assert.equal(filtered.body.pagination.count, 1);
    });

    it('refuses what it cannot honour with 400s and field errors, writing nothing', async () => {
      const base = { name: 'x', slug: 'x-src', consumer_key: 'k', consumer_secret: 's' };
      const unknown = await call(srv, 'POST', '/sources/oauth/', { ...base, provider_type: 'myspace' });
      assert.equal(unknown.status, 400);
      assert.ok(unknown.body.provider_type);
      // Apple's client secret is made from the key Apple gave: a key id format or key that cannot make one is refused
      const apple = await call(srv, 'POST', '/sources/oauth/', { ...base, provider_type: 'apple' });
      assert.deepEqual(
        [apple.status, apple.body],
        [400, { consumer_secret: ['Apple Source client_id should be formatted like services_id_identifier;apple_team_id;key_id'] }],
      );
      const appleKey = await call(srv, 'POST', '/sources/oauth/', { ...base, consumer_key: 'a;b;c', provider_type: 'apple' });
      assert.deepEqual(
        [appleKey.status, appleKey.body],
        [400, { consumer_secret: ['Enter the private key (PKCS #8 PEM) Apple gave for the key id.'] }],
      );
      // a request token URL would make authentik's source OAuth 1, which Keystage does not speak
      const oauth1 = await call(srv, 'POST', '/sources/oauth/', {
        ...base,
        provider_type: 'discord',
        request_token_url: 'https://idp.example.com/oauth/request_token',
      });
      assert.deepEqual(
        [oauth1.status, oauth1.body],
        [400, { request_token_url: ['OAuth 1 (a request token URL) is not supported: leave this empty.'] }],
      );
      const noUrls = await call(srv, 'POST', '/sources/oauth/', { ...base, provider_type: 'openidconnect' });
      assert.equal(noUrls.status, 400);
      assert.deepEqual(noUrls.body, { non_field_errors: ['authorization_url is required for provider OpenID Connect'] });
      const badWellKnown = await call(srv, 'POST', '/sources/oauth/', {
        ...base,
        provider_type: 'openidconnect',
        oidc_well_known_url: `${fake.url}/missing`,
      });
      assert.equal(badWellKnown.status, 400);
      assert.ok(Array.isArray(badWellKnown.body.oidc_well_known_url));
      const mappings = await call(srv, 'POST', '/sources/oauth/', {
        ...base,
        provider_type: 'discord',
        user_property_mappings: [(await call(srv, 'GET', '/propertymappings/all/')).body.results[0].pk],
      });
      assert.equal(mappings.status, 400);
      assert.ok(mappings.body.user_property_mappings);
      const dup = await failure(
        sources.sourcesOauthCreate({
          oAuthSourceRequest: { ...base, slug: 'fake-idp', providerType: 'discord' as never, consumerKey: 'k', consumerSecret: 's' },
        }),
      );
      assert.equal(dup.status, 400);
      assert.ok(dup.body.slug);
      assert.equal((await call(srv, 'GET', '/sources/all/')).body.pagination.count, 1);
    });

    it('shows the source on an identification stage that names it', async () => {
      const ident = await createStage(srv, '/stages/identification/', {
        name: 'src-ident',
        user_fields: ['username'],
        sources: [sourcePk],
      });
      await flowOf(srv, 'src-ident-flow', [ident]);
      const jar = new CookieJar();
      const c = (await jar.json(`${srv.api}/flows/executor/src-ident-flow/?query=`)).body;
      assert.equal(c.component, 'ak-stage-identification');
      assert.deepEqual(c.sources, [
        {
          name: 'Fake IdP',
          icon_url: null,
          promoted: false,
          challenge: { component: 'xak-flow-redirect', to: '/source/oauth/login/fake-idp/' },
        },
      ]);
    });

    it('enrols a new person through the enrollment flow, then logs the same identity in as that user', async () => {
      fake.nextUser = { sub: 'fake-1', email: 'one@idp.example', preferred_username: 'one', name: 'One Person' };
      const jar = new CookieJar();
      const before = fake.requests.length;
      const final = await runFlow(srv, jar, await throughSource(srv, jar, 'fake-idp', '?next=%2Fif%2Fuser%2F%23%2Fsettings'));
      assert.equal(final.component, 'xak-flow-redirect');
      assert.equal(final.to, '/if/user/#/settings');
      // the provider saw S256 PKCE, Basic client authentication with form-encoded parts, and the same redirect URI
      const [authz, token] = fake.requests.slice(before).filter((r) => r.path === '/authorize' || r.path === '/token');
      assert.equal(authz!.query.get('code_challenge_method'), 'S256');
      assert.equal(authz!.query.get('scope'), 'openid email profile');
      assert.equal(authz!.query.get('client_id'), fake.clientId);
      assert.match(token!.authorization ?? '', /^Basic /);
      assert.equal(token!.form.get('client_secret'), null);
      assert.ok(token!.form.get('code_verifier'));
      const user = await srv.app.store.db.selectFrom('users').selectAll().where('username', '=', 'one').executeTakeFirstOrThrow();
      assert.equal(user.email, 'one@idp.example');
      assert.equal(user.name, 'One Person');
      // the source's user_path_template, `goauthentik.io/sources/%(slug)s` by default
      assert.equal(user.path, 'goauthentik.io/sources/fake-idp');
      assert.equal(await loggedInAs(srv, jar), user.id);
      const [conn, ...more] = await connectionsOf(srv, sourcePk);
      assert.equal(more.length, 0);
      assert.equal(conn!.identifier, 'fake-1');
      assert.equal(conn!.user_id, user.id);
      assert.ok(conn!.access_token?.startsWith('enc:v1:'));
      const linked = await srv.app.store.db.selectFrom('events').select('context').where('action', '=', 'source_linked').execute();
      assert.equal(linked.length, 1);

      // another browser, the same identity: the authentication flow logs in the connected user; no new user
      const jar2 = new CookieJar();
      const again = await runFlow(srv, jar2, await throughSource(srv, jar2, 'fake-idp'));
      assert.equal(again.to, '/if/user/');
      assert.equal(await loggedInAs(srv, jar2), user.id);
      assert.equal((await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'one').execute()).length, 1);
      assert.equal((await connectionsOf(srv, sourcePk)).length, 1);

      // the person sees their connection; an administrator sees every one
      const mine = await call(srv, 'GET', '/sources/user_connections/oauth/?source__slug=fake-idp');
      assert.equal(mine.status, 200);
      assertMatches('PaginatedUserOAuthSourceConnectionList', mine.body);
      assert.equal(mine.body.results[0].identifier, 'fake-1');
      assert.equal(mine.body.results[0].source_obj.slug, 'fake-idp');
      assert.equal('access_token' in mine.body.results[0], false);
    });

    it('links by e-mail under email_link, refuses under email_deny, and keeps the state to one use', async () => {
      const existing = await createUser(srv, 'linkme', 'pw-unused-123', { email: 'link@idp.example' });
      assert.equal((await call(srv, 'PATCH', '/sources/oauth/fake-idp/', { user_matching_mode: 'email_deny' })).status, 200);
      fake.nextUser = { sub: 'fake-link', email: 'link@idp.example', preferred_username: 'someone-else' };
      const denied = await throughSource(srv, new CookieJar(), 'fake-idp');
      assert.equal(denied.status, 403);
      assert.match(await denied.text(), /has been denied/);
      assert.equal((await connectionsOf(srv, sourcePk)).length, 1);

      assert.equal((await call(srv, 'PATCH', '/sources/oauth/fake-idp/', { user_matching_mode: 'email_link' })).status, 200);
      const jar = new CookieJar();
      await runFlow(srv, jar, await throughSource(srv, jar, 'fake-idp'));
      assert.equal(await loggedInAs(srv, jar), existing);
      const conns = await connectionsOf(srv, sourcePk);
      assert.deepEqual(
        conns.map((c) => [c.identifier, c.user_id]),
        [
          ['fake-1', conns[0]!.user_id],
          ['fake-link', existing],
        ],
      );

      // a callback whose state does not match, and a replayed callback, are refused
      const jar3 = new CookieJar();
      let res = await fetch(`${srv.url}/source/oauth/login/fake-idp/`, { redirect: 'manual' });
      jar3.keep(res);
      res = await fetch(res.headers.get('location')!, { redirect: 'manual' });
      const back = new URL(res.headers.get('location')!);
      const forged = new URL(back);
      forged.searchParams.set('state', 'forged');
      const bad = await fetch(forged, { headers: jar3.headers(), redirect: 'manual' });
      assert.equal(bad.status, 400);
      assert.match(await bad.text(), /State check failed/);
      jar3.keep(bad);
      const replay = await fetch(back, { headers: jar3.headers(), redirect: 'manual' });
      assert.equal(replay.status, 400);
      assert.match(await replay.text(), /State check failed/);

      // the provider's refusal reaches the person as its error
      fake.refuse = 'access_denied';
      try {
        const refused = await throughSource(srv, new CookieJar(), 'fake-idp');
        assert.equal(refused.status, 400);
        assert.match(await refused.text(), /Authentication failed: access_denied/);
      } finally {
        fake.refuse = undefined;
      }
    });

    it('links a second source to whoever is logged in, and refuses a second identity at the same source', async () => {
      const second = await call(srv, 'POST', '/sources/oauth/', {
        name: 'Second IdP',
        slug: 'second-idp',
        provider_type: 'openidconnect',
        consumer_key: fake.clientId,
        consumer_secret: fake.clientSecret,
        authorization_url: `${fake.url}/authorize`,
        access_token_url: `${fake.url}/token`,
        profile_url: `${fake.url}/userinfo`,
        authorization_code_auth_method: 'post_body',
        authentication_flow: authFlow,
      });
      assert.equal(second.status, 201, JSON.stringify(second.body));
      fake.nextUser = { sub: 'fake-1', email: 'one@idp.example', preferred_username: 'one' } satisfies FakeUser;
      const jar = new CookieJar();
      await runFlow(srv, jar, await throughSource(srv, jar, 'fake-idp'));
      const one = await loggedInAs(srv, jar);
      assert.ok(one);

      fake.nextUser = { sub: 'other-idp-7', email: 'seven@idp.example' };
      const before = fake.requests.length;
      const linked = await throughSource(srv, jar, 'second-idp');
      assert.equal(linked.status, 302);
      assert.equal(linked.headers.get('location'), '/if/user/');
      const token = fake.requests.slice(before).find((r) => r.path === '/token')!;
      assert.equal(token.form.get('client_secret'), fake.clientSecret);
      assert.equal(token.authorization, undefined);
      assert.deepEqual(
        (await connectionsOf(srv, second.body.pk)).map((c) => [c.identifier, c.user_id]),
        [['other-idp-7', one]],
      );

      // the same person, another identity at the first source: refused, nothing changed
      fake.nextUser = { sub: 'fake-99' };
      const refused = await throughSource(srv, jar, 'fake-idp');
      assert.equal(refused.status, 400);
      assert.match(await refused.text(), /already connected/);
      assert.equal((await connectionsOf(srv, sourcePk)).filter((c) => c.identifier === 'fake-99').length, 0);
    });

    it("an enrollment flow whose policy fails: the person sees the policy's message (authentik's test_error_non_applicable_flow)", async () => {
      const policy = await call(srv, 'POST', '/policies/expression/', {
        name: 'src-closed',
        expression: 'ak_message("Sign-ups are closed for now.")\nreturn False',
      });
      const binding = await call(srv, 'POST', '/policies/bindings/', { target: enrollFlow, policy: policy.body.pk, order: 0 });
      try {
        fake.nextUser = { sub: 'fake-closed', email: 'closed@idp.example', preferred_username: 'closed-person' };
        const denied = await throughSource(srv, new CookieJar(), 'fake-idp');
        assert.equal(denied.status, 403);
        const text = await denied.text();
        assert.match(text, /Sign-ups are closed for now\./);
        assert.doesNotMatch(text, /Flow does not apply/);
        assert.equal((await connectionsOf(srv, sourcePk)).filter((c) => c.identifier === 'fake-closed').length, 0);
      } finally {
        await call(srv, 'DELETE', `/policies/bindings/${binding.body.pk}/`);
      }
    });

    it("the flow's policies see the source as authentik's model and the provider's userinfo (oauth_userinfo)", async () => {
      // authentik's documented checks: the provider type, and a claim of the userinfo (here: a verified address)
      const policy = await call(srv, 'POST', '/policies/expression/', {
        name: 'src-verified',
        expression: [
          'if context["source"].provider_type != "openidconnect" or context["source"].slug != "fake-idp":',
          '    return False',
          'if not context["oauth_userinfo"].get("email_verified"):',
          '    ak_message("Verify your e-mail address at the identity provider first.")',
          '    return False',
          'return True',
        ].join('\n'),
      });
      assert.equal(policy.status, 201, JSON.stringify(policy.body));
      const binding = await call(srv, 'POST', '/policies/bindings/', { target: enrollFlow, policy: policy.body.pk, order: 0 });
      try {
        fake.nextUser = {
          sub: 'fake-unverified',
          email: 'unverified@idp.example',
          preferred_username: 'unverified',
          email_verified: false,
        };
        const denied = await throughSource(srv, new CookieJar(), 'fake-idp');
        assert.equal(denied.status, 403);
        assert.match(await denied.text(), /Verify your e-mail address at the identity provider first\./);
        fake.nextUser = { sub: 'fake-verified', email: 'verified@idp.example', preferred_username: 'verified', email_verified: true };
        const jar = new CookieJar();
        const final = await runFlow(srv, jar, await throughSource(srv, jar, 'fake-idp'));
        assert.ok(final, 'the flow ran');
        assert.ok(
          await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'verified').executeTakeFirst(),
          'enrolled',
        );
      } finally {
        await call(srv, 'DELETE', `/policies/bindings/${binding.body.pk}/`);
      }
    });

    it('lists the sources a person may connect, as their policies decide', async () => {
      const listed = async () =>
        ((await call(srv, 'GET', '/sources/all/user_settings/')).body as { object_uid: string; configure_url: string }[]).map((s) => [
          s.object_uid,
          s.configure_url,
        ]);
      assert.deepEqual(await listed(), [
        ['fake-idp', '/source/oauth/login/fake-idp/'],
        ['second-idp', '/source/oauth/login/second-idp/'],
      ]);
      const deny = await call(srv, 'POST', '/policies/dummy/', { name: 'no-second', result: false, wait_min: 0, wait_max: 0 });
      assert.equal(deny.status, 201, JSON.stringify(deny.body));
      const second = (await call(srv, 'GET', '/sources/oauth/second-idp/')).body.pk;
      const bound = await call(srv, 'POST', '/policies/bindings/', { target: second, policy: deny.body.pk, order: 0 });
      assert.equal(bound.status, 201, JSON.stringify(bound.body));
      assert.equal(bound.body.target, second);
      assert.deepEqual(await listed(), [['fake-idp', '/source/oauth/login/fake-idp/']]);
      // deleting the source takes its bindings with it
      assert.equal((await call(srv, 'DELETE', '/sources/oauth/second-idp/')).status, 204);
      assert.equal((await call(srv, 'GET', `/policies/bindings/?policy=${deny.body.pk}`)).body.pagination.count, 0);
    });

    it('a well-known document offering S256 turns PKCE on, unless the write names pkce; the login then sends a challenge', async () => {
      fake.codeChallengeMethods = ['plain', 'S256'];
      try {
        const wellKnown = `${fake.url}/.well-known/openid-configuration`;
        const made = await call(srv, 'POST', '/sources/oauth/', {
          name: 'PKCE IdP',
          slug: 'pkce-idp',
          provider_type: 'openidconnect',
          consumer_key: fake.clientId,
          consumer_secret: fake.clientSecret,
          oidc_well_known_url: wellKnown,
          authentication_flow: authFlow,
          enrollment_flow: enrollFlow,
        });
        assert.equal(made.status, 201, JSON.stringify(made.body));
        assert.equal(made.body.pkce, 'S256');
        const named = await call(srv, 'POST', '/sources/oauth/', {
          name: 'No PKCE IdP',
          slug: 'no-pkce-idp',
          provider_type: 'openidconnect',
          consumer_key: fake.clientId,
          consumer_secret: fake.clientSecret,
          oidc_well_known_url: wellKnown,
          pkce: 'none',
        });
        assert.equal(named.status, 201, JSON.stringify(named.body));
        assert.equal(named.body.pkce, 'none');
        fake.nextUser = { sub: 'pkce-1', preferred_username: 'pia', email: 'pia@idp.example' };
        const jar = new CookieJar();
        await runFlow(srv, jar, await throughSource(srv, jar, 'pkce-idp'));
        const authorize = fake.requests.filter((r) => r.path === '/authorize').at(-1)!;
        assert.equal(authorize.query.get('code_challenge_method'), 'S256');
        assert.ok(await loggedInAs(srv, jar), 'the code was redeemed with its verifier');
      } finally {
        fake.codeChallengeMethods = undefined;
      }
    });

    it('every three hours, sources take their OIDC document’s URLs and the keys it serves now (update_well_known_jwks)', async () => {
      const ACTOR = 'authentik.sources.oauth.tasks.update_well_known_jwks';
      const made = await call(srv, 'POST', '/sources/oauth/', {
        name: 'Rotating IdP',
        slug: 'rotating-idp',
        provider_type: 'openidconnect',
        consumer_key: fake.clientId,
        consumer_secret: fake.clientSecret,
        oidc_well_known_url: `${fake.url}/.well-known/openid-configuration`,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const broken = await call(srv, 'POST', '/sources/oauth/', {
        name: 'Gone IdP',
        slug: 'gone-idp',
        provider_type: 'openidconnect',
        consumer_key: 'x',
        consumer_secret: 'y',
        authorization_url: `${fake.url}/authorize`,
        access_token_url: `${fake.url}/token`,
        profile_url: `${fake.url}/userinfo`,
      });
      assert.equal(broken.status, 201, JSON.stringify(broken.body));
      const db = srv.app.store.db;
      // the identity provider's document moved on since: another userinfo URL kept, another well-known for the second
      await db
        .updateTable('oauth_sources')
        .set({ profile_url: 'http://old.invalid/userinfo' })
        .where('source_uuid', '=', made.body.pk)
        .execute();
      await db
        .updateTable('oauth_sources')
        .set({ oidc_well_known_url: `${fake.url}/missing` })
        .where('source_uuid', '=', broken.body.pk)
        .execute();
      const oldKeys = fake.jwks;
      fake.jwks = { keys: [{ kty: 'oct', kid: 'rotated', k: 'bmV3LXNlY3JldA' }] };
      try {
        const schedule = (await call(srv, 'GET', `/tasks/schedules/?actor_name=${ACTOR}`)).body.results[0];
        assert.ok(schedule, 'a schedule of its own');
        assert.equal(schedule.crontab.split(' ')[1], '*/3');
        assert.equal((await call(srv, 'POST', `/tasks/schedules/${schedule.id}/send/`)).status, 204);
        let task: Record<string, any> | undefined;
        for (let i = 0; i < 100 && task?.state !== 'done'; i++) {
          task = (await call(srv, 'GET', `/tasks/tasks/?actor_name=${ACTOR}`)).body.results[0];
          if (task?.state !== 'done') await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(task?.state, 'done', JSON.stringify(task));
        const after = (await call(srv, 'GET', '/sources/oauth/rotating-idp/')).body;
        assert.equal(after.profile_url, `${fake.url}/userinfo`);
        assert.deepEqual(after.oidc_jwks, fake.jwks);
        assert.ok(
          task.logs.some((l: { event: string }) => l.event === 'Failed to update OIDC configuration for gone-idp'),
          JSON.stringify(task.logs),
        );
        assert.equal((await call(srv, 'GET', '/sources/oauth/gone-idp/')).body.profile_url, `${fake.url}/userinfo`);
      } finally {
        fake.jwks = oldKeys;
        await call(srv, 'DELETE', '/sources/oauth/rotating-idp/');
        await call(srv, 'DELETE', '/sources/oauth/gone-idp/');
      }
    });

    it('tells the identity provider who is logging in (login_hint): the identifier typed, else the pending user’s e-mail', async () => {
      await createUser(srv, 'hinted', 'hinted-password-1', { email: 'hinted@corp.example' });
      const shown = await createStage(srv, '/stages/identification/', { name: 'hint-shown', user_fields: ['username'] });
      const hidden = await createStage(srv, '/stages/identification/', {
        name: 'hint-hidden',
        user_fields: ['username'],
        show_matched_user: false,
      });
      const login = async (stage: string, slug: string) => {
        await flowOf(srv, slug, [stage, await createStage(srv, '/stages/dummy/', { name: `${slug}-dummy` })]);
        const jar = new CookieJar();
        await jar.json(`${srv.api}/flows/executor/${slug}/?query=`);
        const r = await jar.json(`${srv.api}/flows/executor/${slug}/?query=`, 'POST', {
          component: 'ak-stage-identification',
          uid_field: 'HINTED',
        });
        assert.equal(r.body.component, 'ak-stage-dummy', JSON.stringify(r.body));
        const res = await fetch(`${srv.url}/source/oauth/login/fake-idp/`, { headers: jar.headers(), redirect: 'manual' });
        assert.equal(res.status, 302);
        return new URL(res.headers.get('location')!).searchParams.get('login_hint');
      };
      assert.equal(await login(shown, 'hint-flow-email'), 'hinted@corp.example');
      assert.equal(await login(hidden, 'hint-flow-typed'), 'HINTED');
      const anonymous = await fetch(`${srv.url}/source/oauth/login/fake-idp/`, { redirect: 'manual' });
      assert.equal(new URL(anonymous.headers.get('location')!).searchParams.get('login_hint'), null);
    });

    it('applies the groups the provider names: created or matched by group_matching_mode, memberships kept in step', async () => {
      const made = await call(srv, 'POST', '/sources/oauth/', {
        name: 'Groups IdP',
        slug: 'groups-idp',
        provider_type: 'openidconnect',
        consumer_key: fake.clientId,
        consumer_secret: fake.clientSecret,
        oidc_well_known_url: `${fake.url}/.well-known/openid-configuration`,
        authentication_flow: authFlow,
        enrollment_flow: enrollFlow,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const groupsOf = async (username: string) =>
        (
          await srv.app.store.db
            .selectFrom('user_groups')
            .innerJoin('groups', 'groups.group_uuid', 'user_groups.group_uuid')
            .innerJoin('users', 'users.id', 'user_groups.user_id')
            .select('groups.name')
            .where('users.username', '=', username)
            .orderBy('groups.name')
            .execute()
        ).map((g) => g.name);
      const other = await call(srv, 'POST', '/core/groups/', { name: 'unrelated' });
      assert.equal(other.status, 201, JSON.stringify(other.body));

      // first login: both groups are created (identifier mode) and connected; non-string entries are dropped
      fake.nextUser = { sub: 'g-1', preferred_username: 'gwen', email: 'gwen@idp.example', groups: ['eng', 'ops', { bad: 1 }] };
      const jar = new CookieJar();
      await runFlow(srv, jar, await throughSource(srv, jar, 'groups-idp'));
      assert.deepEqual(await groupsOf('gwen'), ['eng', 'ops']);
      const connections = await call(srv, 'GET', '/sources/group_connections/oauth/?source__slug=groups-idp&ordering=identifier');
      assert.equal(connections.status, 200);
      assertMatches('PaginatedGroupOAuthSourceConnectionList', connections.body);
      assert.deepEqual(
        connections.body.results.map((c: { identifier: string }) => c.identifier),
        ['eng', 'ops'],
      );
      // a group the person joined by other means stays; the source's group it no longer names goes
      const gwen = (await call(srv, 'GET', '/core/users/?username=gwen')).body.results[0].pk;
      assert.equal((await call(srv, 'POST', `/core/groups/${other.body.pk}/add_user/`, { pk: gwen })).status, 204);
      fake.nextUser = { ...fake.nextUser, groups: ['eng'] };
      const jar2 = new CookieJar();
      await runFlow(srv, jar2, await throughSource(srv, jar2, 'groups-idp'));
      assert.deepEqual(await groupsOf('gwen'), ['eng', 'unrelated']);

      // a group of that name exists outside the source: name_deny refuses, name_link joins it
      await call(srv, 'POST', '/core/groups/', { name: 'admins' });
      assert.equal((await call(srv, 'PATCH', '/sources/oauth/groups-idp/', { group_matching_mode: 'name_deny' })).status, 200);
      fake.nextUser = { ...fake.nextUser, groups: ['eng', 'admins'] };
      const jar3 = new CookieJar();
      const refused = await runFlow(srv, jar3, await throughSource(srv, jar3, 'groups-idp'));
      assert.equal(refused.component, 'ak-stage-access-denied');
      assert.equal(refused.error_message, 'Failed to update groups. Please try again later.');
      assert.deepEqual(await groupsOf('gwen'), ['eng', 'unrelated']);
      // (a group mapping's attributes: a linked group takes them at once, as authentik's handle_group)
      const gm = await call(srv, 'POST', '/propertymappings/source/oauth/', {
        name: 'groups-idp-attributes',
        expression: 'return {"attributes": {"linked_from": "groups-idp", "idp_id": group_id}}',
      });
      assert.equal(gm.status, 201, JSON.stringify(gm.body));
      const linking = { group_matching_mode: 'name_link', group_property_mappings: [gm.body.pk] };
      assert.equal((await call(srv, 'PATCH', '/sources/oauth/groups-idp/', linking)).status, 200);
      const jar4 = new CookieJar();
      await runFlow(srv, jar4, await throughSource(srv, jar4, 'groups-idp'));
      assert.deepEqual(await groupsOf('gwen'), ['admins', 'eng', 'unrelated']);
      const admins = await call(srv, 'GET', '/core/groups/?name=admins');
      assert.equal(admins.body.pagination.count, 1);
      assert.deepEqual(admins.body.results[0].attributes, { linked_from: 'groups-idp', idp_id: 'admins' });
      assert.equal((await call(srv, 'PATCH', '/sources/oauth/groups-idp/', { group_property_mappings: [] })).status, 200);
    });

    it('GitHub: the numeric id identifies the person; without a public e-mail, the primary one of /user/emails', async () => {
      const gh = await call(srv, 'POST', '/sources/oauth/', {
        name: 'GitHub',
        slug: 'github',
        provider_type: 'github',
        consumer_key: fake.clientId,
        consumer_secret: fake.clientSecret,
        authorization_url: `${fake.url}/authorize`,
        access_token_url: `${fake.url}/token`,
        profile_url: `${fake.url}/user`,
        // its own (no fetch of GitHub Actions' document, the type's default, from a test)
        oidc_well_known_url: `${fake.url}/.well-known/openid-configuration`,
        authentication_flow: authFlow,
        enrollment_flow: enrollFlow,
      });
      assert.equal(gh.status, 201, JSON.stringify(gh.body));
      assert.equal(gh.body.type.authorization_url, 'https://github.com/login/oauth/authorize');
      fake.nextUser = {
        sub: '4242',
        preferred_username: 'octo',
        name: 'Octo Cat',
        emails: [
          { email: 'old@octo.example', primary: false, verified: true },
          { email: 'octo@octo.example', primary: true, verified: true },
        ],
      };
      const before = fake.requests.length;
      const jar = new CookieJar();
      await runFlow(srv, jar, await throughSource(srv, jar, 'github'));
      const authz = fake.requests.slice(before).find((r) => r.path === '/authorize')!;
      assert.equal(authz.query.get('scope'), 'read:user user:email');
      const user = await srv.app.store.db.selectFrom('users').selectAll().where('username', '=', 'octo').executeTakeFirstOrThrow();
      assert.equal(user.email, 'octo@octo.example');
      assert.equal(user.name, 'Octo Cat');
      const [conn] = await connectionsOf(srv, gh.body.pk);
      assert.equal(conn!.identifier, '4242');
      // GitHub's client authentication: the client in the body (authentik's type default)
      assert.equal(gh.body.authorization_code_auth_method, 'post_body');
      const token = fake.requests.slice(before).find((r) => r.path === '/token')!;
      assert.equal(token.form.get('client_secret'), fake.clientSecret);
    });

    it('Entra ID (Graph profile and memberOf groups by display name), Twitch (claims asked for), Mailcow (token in the query)', async () => {
      const make = async (slug: string, provider_type: string, urls: Record<string, string>, extra: Record<string, unknown> = {}) => {
        const r = await call(srv, 'POST', '/sources/oauth/', {
          name: slug,
          slug,
          provider_type,
          consumer_key: fake.clientId,
          consumer_secret: fake.clientSecret,
          authentication_flow: authFlow,
          enrollment_flow: enrollFlow,
          ...urls,
          ...extra,
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        return r.body;
      };
      const own = { authorization_url: `${fake.url}/authorize`, access_token_url: `${fake.url}/token` };
      // an own JWKS URL: nothing is fetched from Microsoft by a test
      await make(
        'entra',
        'entraid',
        { ...own, profile_url: `${fake.url}/me`, oidc_jwks_url: `${fake.url}/jwks` },
        {
          additional_scopes: 'https://graph.microsoft.com/GroupMember.Read.All',
        },
      );
      fake.nextUser = {
        sub: 'entra-oid-1',
        preferred_username: 'erin@contoso.example',
        name: 'Erin Entra',
        email: 'erin@contoso.example',
        memberOf: [
          { '@odata.type': '#microsoft.graph.group', id: 'g-1', displayName: 'Engineering' },
          { '@odata.type': '#microsoft.graph.directoryRole', id: 'r-1', displayName: 'Global Reader' },
        ],
      };
      let before = fake.requests.length;
      const jar = new CookieJar();
      await runFlow(srv, jar, await throughSource(srv, jar, 'entra'));
      const authz = fake.requests.slice(before).find((r) => r.path === '/authorize')!;
      assert.equal(
        authz.query.get('scope'),
        'openid https://graph.microsoft.com/User.Read https://graph.microsoft.com/GroupMember.Read.All',
      );
      const erin = await srv.app.store.db
        .selectFrom('users')
        .selectAll()
        .where('username', '=', 'erin@contoso.example')
        .executeTakeFirstOrThrow();
      assert.equal(erin.name, 'Erin Entra');
      const erinGroups = await srv.app.store.db
        .selectFrom('user_groups')
        .innerJoin('groups', 'groups.group_uuid', 'user_groups.group_uuid')
        .select('groups.name')
        .where('user_groups.user_id', '=', erin.id)
        .execute();
      assert.deepEqual(erinGroups, [{ name: 'Engineering' }]);
      const gconn = await call(srv, 'GET', '/sources/group_connections/oauth/?source__slug=entra');
      assert.deepEqual(
        gconn.body.results.map((c: { identifier: string }) => c.identifier),
        ['g-1'],
      );

      await make('twitch', 'twitch', {});
      // Twitch's URLs are fixed: the test reads the authorization request without following it
      const jarT = new CookieJar();
      const res = await fetch(`${srv.url}/source/oauth/login/twitch/`, { headers: jarT.headers(), redirect: 'manual' });
      const to = new URL(res.headers.get('location')!);
      assert.equal(to.origin + to.pathname, 'https://id.twitch.tv/oauth2/authorize');
      assert.equal(to.searchParams.get('scope'), 'openid');
      assert.deepEqual(JSON.parse(to.searchParams.get('claims')!), { userinfo: { email: null, preferred_username: null } });

      await make('mailcow', 'mailcow', { ...own, profile_url: `${fake.url}/mailcow/profile` });
      fake.nextUser = { sub: '77', name: 'Mo Cow', email: 'mo@mail.example' };
      before = fake.requests.length;
      const jarM = new CookieJar();
      await runFlow(srv, jarM, await throughSource(srv, jarM, 'mailcow'));
      assert.ok(await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'Mo Cow').executeTakeFirst());
      assert.ok(fake.requests.slice(before).some((r) => r.path === '/mailcow/profile' && r.query.get('access_token')));
    });

    it('runs the source’s property mappings (authentik’s Python): user properties, group names and attributes; a failing one refuses', async () => {
      const mapping = async (name: string, expression: string) => {
        const r = await call(srv, 'POST', '/propertymappings/source/oauth/', { name, expression });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        assertMatches('OAuthSourcePropertyMapping', r.body);
        return r.body.pk as string;
      };
      const userMap = await mapping('m-username', 'return {"username": "m-" + info["sub"], "name": properties["name"].upper()}');
      const groupMap = await mapping('m-group', 'return {"name": "grp-" + group_id, "attributes": {"from": group_id, "tags": ["a"]}}');
      const scope = (await call(srv, 'GET', '/propertymappings/provider/scope/')).body.results[0].pk;
      const base = {
        provider_type: 'openidconnect',
        consumer_key: fake.clientId,
        consumer_secret: fake.clientSecret,
        oidc_well_known_url: `${fake.url}/.well-known/openid-configuration`,
        authentication_flow: authFlow,
        enrollment_flow: enrollFlow,
      };
      // only OAuth source mappings may be named
      const wrongKind = await call(srv, 'POST', '/sources/oauth/', {
        ...base,
        name: 'x',
        slug: 'x-mapped',
        user_property_mappings: [scope],
      });
      assert.equal(wrongKind.status, 400);
      assert.deepEqual(wrongKind.body, { user_property_mappings: [`Invalid pk "${scope}" - object does not exist.`] });
      const made = await call(srv, 'POST', '/sources/oauth/', {
        ...base,
        name: 'Mapped IdP',
        slug: 'mapped-idp',
        user_property_mappings: [userMap],
        group_property_mappings: [groupMap],
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assert.deepEqual(made.body.user_property_mappings, [userMap]);
      assert.deepEqual(made.body.group_property_mappings, [groupMap]);
      const usedBy = await call(srv, 'GET', `/propertymappings/source/oauth/${userMap}/used_by/`);
      assert.deepEqual(
        usedBy.body.map((u: { pk: string }) => u.pk),
        [made.body.pk],
      );

      fake.nextUser = { sub: 'mp-1', preferred_username: 'ignored', name: 'Mia Mapped', email: 'mia@idp.example', groups: ['staff'] };
      const jar = new CookieJar();
      await runFlow(srv, jar, await throughSource(srv, jar, 'mapped-idp'));
      const user = await srv.app.store.db.selectFrom('users').selectAll().where('username', '=', 'm-mp-1').executeTakeFirstOrThrow();
      assert.equal(user.name, 'MIA MAPPED');
      assert.equal(await loggedInAs(srv, jar), user.id);
      const groups = await srv.app.store.db
        .selectFrom('user_groups')
        .innerJoin('groups', 'groups.group_uuid', 'user_groups.group_uuid')
        .select('groups.name')
        .where('user_groups.user_id', '=', user.id)
        .execute();
      assert.deepEqual(groups, [{ name: 'grp-staff' }]);
      const group = () =>
        srv.app.store.db
          .selectFrom('group_source_connections')
          .innerJoin('groups', 'groups.group_uuid', 'group_source_connections.group_uuid')
          .select(['groups.name', 'groups.attributes'])
          .where('group_source_connections.source_uuid', '=', made.body.pk)
          .where('group_source_connections.identifier', '=', 'staff')
          .executeTakeFirstOrThrow();
      // the group mappings' attributes go onto the group they create
      assert.deepEqual(JSON.parse((await group()).attributes), { from: 'staff', tags: ['a'] });
      // and at every login onto the connected group, merged (lists joined), with the mappings' name (authentik's
      // update_attributes)
      assert.equal(
        (
          await call(srv, 'PATCH', `/propertymappings/source/oauth/${groupMap}/`, {
            expression: 'return {"name": "team-" + group_id, "attributes": {"tags": ["b"], "since": 2}}',
          })
        ).status,
        200,
      );
      const again = new CookieJar();
      await runFlow(srv, again, await throughSource(srv, again, 'mapped-idp'));
      const renamed = await group();
      assert.equal(renamed.name, 'team-staff');
      assert.deepEqual(JSON.parse(renamed.attributes), { from: 'staff', tags: ['a', 'b'], since: 2 });

      // a mapping that raises: the login is refused, nothing is created, and the failure is recorded
      assert.equal(
        (await call(srv, 'PATCH', `/propertymappings/source/oauth/${userMap}/`, { expression: 'raise ValueError("boom")' })).status,
        200,
      );
      fake.nextUser = { sub: 'mp-2', name: 'Nobody' };
      const refused = await throughSource(srv, new CookieJar(), 'mapped-idp');
      assert.equal(refused.status, 400);
      assert.match(await refused.text(), /Failed to evaluate property mapping: &#39;m-username&#39;/);
      assert.equal((await connectionsOf(srv, made.body.pk)).map((c) => c.identifier).join(','), 'mp-1');
      const ev = await srv.app.store.db.selectFrom('events').select('context').where('action', '=', 'configuration_error').execute();
      assert.ok(ev.some((e) => JSON.parse(e.context).mapping?.name === 'm-username'));
    });

    it('a disabled source answers 404; deleting a source removes its connections and its place on stages', async () => {
      assert.equal((await call(srv, 'PATCH', '/sources/oauth/fake-idp/', { enabled: false })).status, 200);
      assert.equal((await fetch(`${srv.url}/source/oauth/login/fake-idp/`, { redirect: 'manual' })).status, 404);
      const jar = new CookieJar();
      const c = (await jar.json(`${srv.api}/flows/executor/src-ident-flow/?query=`)).body;
      assert.deepEqual(c.sources, []);
      const usedBy = await call(srv, 'GET', '/sources/all/fake-idp/used_by/');
      assert.equal(usedBy.status, 200);
      assert.ok(usedBy.body.length >= 2);
      const flowUsedBy = await call(srv, 'GET', '/flows/instances/src-enroll/used_by/');
      assert.ok(flowUsedBy.body.some((u: { pk: string }) => u.pk === sourcePk));
      await sources.sourcesOauthDestroy({ slug: 'fake-idp' });
      assert.equal((await connectionsOf(srv, sourcePk)).length, 0);
      const stage = await call(srv, 'GET', '/stages/identification/?name=src-ident');
      assert.deepEqual(stage.body.results[0].sources, []);
      assert.equal((await call(srv, 'GET', '/sources/oauth/fake-idp/')).status, 404);
    });
  });
}
