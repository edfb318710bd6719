/**
 * authentik's GitHub-compatible endpoints, on SQLite and PostgreSQL, as GitHub OAuth software uses them: a person is
 * sent to /login/oauth/authorize with GitHub's scopes, logs in, the code is redeemed at /login/oauth/access_token,
 * and /user and /user/teams answer GitHub's shapes for the person; scopes the token lacks are refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { createUser } from '../../helpers/flows.js';
import { Browser, PASSWORD } from './browser.js';

const REDIRECT = 'http://127.0.0.1:9/github/callback';

for (const dialect of dialects()) {
  describe(`OAuth2 GitHub-compatible endpoints (${dialect})`, () => {
    let srv: TestServer;
    let provider: { client_id: string; client_secret: string };
    let alice: number;

    before(async () => {
      srv = await startServer(dialect);
      alice = await createUser(srv, 'alice', PASSWORD, { name: 'Alice Liddell' });
      for (const name of ['Engineering', 'On Call']) {
        const g = await call(srv, 'POST', '/core/groups/', { name });
        assert.equal((await call(srv, 'POST', `/core/groups/${g.body.pk}/add_user/`, { pk: alice })).status, 204);
      }
      const flow = (s: string) => call(srv, 'GET', `/flows/instances/${s}/`).then((r) => r.body.pk as string);
      const rows = await srv.app.store.db.selectFrom('property_mappings').select(['pm_uuid', 'managed']).execute();
      const pm = (s: string) => rows.find((r) => r.managed === `goauthentik.io/providers/oauth2/scope-${s}`)!.pm_uuid;
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'gitea',
        authorization_flow: await flow('default-provider-authorization-implicit-consent'),
        invalidation_flow: await flow('default-provider-invalidation-flow'),
        redirect_uris: [{ matching_mode: 'strict', url: REDIRECT }],
        property_mappings: [pm('openid'), pm('email'), pm('profile')],
      });
      assert.equal(p.status, 201);
      provider = p.body;
      await call(srv, 'POST', '/core/applications/', { name: 'Gitea', slug: 'gitea', provider: p.body.pk });
    });
    after(async () => srv.close());

    /** the person's code for `scope` through GitHub's authorize URL, logging in on the way */
    async function codeFor(browser: Browser, scope: string): Promise<string> {
      const verifier = randomBytes(32).toString('base64url');
      const url = new URL(`${srv.url}/login/oauth/authorize`);
      url.search = new URLSearchParams({
        client_id: provider.client_id,
        redirect_uri: REDIRECT,
        response_type: 'code',
        scope,
        state: 'xyz',
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      }).toString();
      const r = await fetch(url, { redirect: 'manual', headers: browser.jar.headers() });
      browser.jar.keep(r);
      const loginAt = new URL(r.headers.get('location')!, srv.url);
      const next = loginAt.searchParams.get('next')!;
      assert.match(next, /^\/login\/oauth\/authorize\?/);
      await browser.login('alice', `next=${encodeURIComponent(next)}`);
      const landed = await browser.authorize(new URL(next, srv.url));
      assert.equal(`${landed.origin}${landed.pathname}`, REDIRECT);
      assert.equal(landed.searchParams.get('state'), 'xyz');
      (browser as unknown as { verifier: string }).verifier = verifier;
      return landed.searchParams.get('code')!;
    }

    async function accessToken(browser: Browser, code: string) {
      const r = await fetch(`${srv.url}/login/oauth/access_token`, {
        method: 'POST',
        headers: { accept: 'application/json' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: provider.client_id,
          client_secret: provider.client_secret,
          code,
          redirect_uri: REDIRECT,
          code_verifier: (browser as unknown as { verifier: string }).verifier,
        }),
      });
      assert.equal(r.status, 200);
      return (await r.json()) as { access_token: string; scope: string };
    }

    it('GitHub’s scopes through /login/oauth/authorize and access_token; /user and /user/teams answer GitHub’s shapes', async () => {
      const browser = new Browser(srv);
      const tokens = await accessToken(browser, await codeFor(browser, 'openid user:email read:org'));
      assert.deepEqual(tokens.scope.split(' ').sort(), ['openid', 'read:org', 'user:email']);
      // GitHub's own header form, `token …`
      const user = await fetch(`${srv.url}/user`, { headers: { authorization: `token ${tokens.access_token}` } });
      assert.equal(user.status, 200);
      const u = (await user.json()) as Record<string, any>;
      assert.deepEqual(
        [u.login, u.id, u.name, u.email, u.type, u.site_admin, u.two_factor_authentication, u.plan],
        [
          'alice',
          alice,
          'Alice Liddell',
          'alice@example.com',
          'User',
          false,
          true,
          { name: 'None', space: 0, private_repos: 0, collaborators: 0 },
        ],
      );
      assert.equal(typeof u.created_at, 'string');
      const teams = await fetch(`${srv.url}/user/teams`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(teams.status, 200);
      const t = (await teams.json()) as Record<string, any>[];
      assert.deepEqual(
        t.map((x) => [x.name, x.slug, typeof x.id, x.organization.type]),
        [
          ['Engineering', 'engineering', 'number', 'Organization'],
          ['On Call', 'on-call', 'number', 'Organization'],
        ],
      );
      const brand = (await call(srv, 'GET', '/core/brands/current/')).body.branding_title;
      assert.equal(t[0]!.organization.name, brand);
      // the query parameter works too
      assert.equal((await fetch(`${srv.url}/user?access_token=${tokens.access_token}`)).status, 200);
    });

    it('a token without the GitHub scope, or none at all: 403 insufficient_scope / 401 invalid_token', async () => {
      const browser = new Browser(srv);
      const tokens = await accessToken(browser, await codeFor(browser, 'openid read:org'));
      const user = await fetch(`${srv.url}/user`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(user.status, 403);
      assert.match(user.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
      assert.equal((await fetch(`${srv.url}/user/teams`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).status, 200);
      const none = await fetch(`${srv.url}/user/teams`);
      assert.equal(none.status, 401);
      assert.equal((await fetch(`${srv.url}/user`, { headers: { authorization: 'token nope' } })).status, 401);
    });

    it('at the standard authorize URL GitHub’s scopes are dropped; an unknown scope drops them at GitHub’s too', async () => {
      const browser = new Browser(srv);
      await browser.open('/');
      const verifier = randomBytes(32).toString('base64url');
      const q = (scope: string, path: string) =>
        `${srv.url}${path}?${new URLSearchParams({
          client_id: provider.client_id,
          redirect_uri: REDIRECT,
          response_type: 'code',
          scope,
          code_challenge: createHash('sha256').update(verifier).digest('base64url'),
          code_challenge_method: 'S256',
        })}`;
      await codeFor(browser, 'openid');
      (browser as unknown as { verifier: string }).verifier = verifier;
      const standard = await browser.authorize(q('openid user:email', '/application/o/authorize/'));
      const t1 = await accessToken(browser, standard.searchParams.get('code')!);
      assert.equal(t1.scope, 'openid');
      const unknown = await browser.authorize(q('openid user:email repo', '/login/oauth/authorize'));
      const t2 = await accessToken(browser, unknown.searchParams.get('code')!);
      assert.equal(t2.scope, 'openid');
    });
  });
}
