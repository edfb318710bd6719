/** Contract: users, tokens, root config, version and the schema document through the official client. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dialects, PRODUCTION_ARGON2, startServer, type TestServer } from '../../helpers/server.js';
import { assertArrayOf, assertMatches } from '../../helpers/openapi-schema.js';
import { body, clients, failure, status } from './client.js';

for (const dialect of dialects()) {
  describe(`contract: users, tokens, root (${dialect})`, () => {
    let srv: TestServer;
    let api: ReturnType<typeof clients>;
    before(async () => {
      // the stored hash's parameters are asserted: the defaults, not the test servers' cheap ones
      srv = await startServer(dialect, { argon2: PRODUCTION_ARGON2 });
      api = clients(srv);
    });
    after(async () => srv.close());

    it('users: create, list (filters, include_groups), retrieve, PUT, PATCH, set_password, used_by, me, destroy', async () => {
      const u = await body(
        api.core.coreUsersCreateRaw({
          userRequest: { username: 'contract-user', name: 'Contract User', email: 'cu@example.com', path: 'users/contract' },
        }),
      );
      assertMatches('User', u);
      assert.equal(u.is_active, true);
      assert.equal(u.type, 'internal');
      assert.equal(u.is_superuser, false);
      const list = await body(api.core.coreUsersListRaw({ username: 'contract-user', includeGroups: false }));
      assertMatches('PaginatedUserList', list);
      assert.equal(list.results[0].groups_obj, null);
      assert.equal((await body(api.core.coreUsersListRaw({ pathStartswith: 'users/con' }))).pagination.count, 1);
      assert.equal((await body(api.core.coreUsersListRaw({ isSuperuser: true }))).results[0].username, 'akadmin');
      assertMatches('User', await body(api.core.coreUsersRetrieveRaw({ id: u.pk })));
      const patched = await body(api.core.coreUsersPartialUpdateRaw({ id: u.pk, patchedUserRequest: { attributes: { team: 'a' } } }));
      assert.deepEqual(patched.attributes, { team: 'a' });
      const put = await body(api.core.coreUsersUpdateRaw({ id: u.pk, userRequest: { username: 'contract-user', name: 'Renamed' } }));
      assertMatches('User', put);
      assert.equal(put.name, 'Renamed');
      assert.equal(
        await status(api.core.coreUsersSetPasswordCreateRaw({ id: u.pk, userPasswordSetRequest: { password: 'a fine password 1' } })),
        204,
      );
      const row = await srv.app.store.db.selectFrom('users').select('password').where('id', '=', u.pk).executeTakeFirstOrThrow();
      assert.match(row.password, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assertArrayOf('UsedBy', await body(api.core.coreUsersUsedByListRaw({ id: u.pk })));
      const me = await body(api.core.coreUsersMeRetrieveRaw());
      assertMatches('SessionUser', me);
      assert.equal(me.user.username, 'akadmin');
      const dupe = await failure(api.core.coreUsersCreateRaw({ userRequest: { username: 'contract-user', name: '' } }));
      assert.deepEqual(dupe.body, { username: ['This field must be unique.'] });
      const slash = await failure(api.core.coreUsersCreateRaw({ userRequest: { username: 'slashy', name: '', path: '/bad' } }));
      assert.deepEqual(slash.body, { path: ['No leading or trailing slashes allowed.'] });
      assert.equal(await status(api.core.coreUsersDestroyRaw({ id: u.pk })), 204);
      assert.deepEqual((await failure(api.core.coreUsersRetrieveRaw({ id: u.pk }))).body, { detail: 'No User matches the given query.' });
    });

    it('tokens: create, list, retrieve, PUT, PATCH, view_key, set_key, used_by, destroy; API tokens work and expire', async () => {
      const t = await body(
        api.core.coreTokensCreateRaw({
          tokenRequest: { identifier: 'contract-token', intent: 'api' as never, expiring: false, description: 'd' },
        }),
      );
      assertMatches('Token', t);
      assert.equal(t.user, 1);
      assert.equal('key' in t, false, 'the key is never part of the token object');
      const list = await body(api.core.coreTokensListRaw({ identifier: 'contract-token' }));
      assertMatches('PaginatedTokenList', list);
      assertMatches('Token', await body(api.core.coreTokensRetrieveRaw({ identifier: 'contract-token' })));
      const view = await body(api.core.coreTokensViewKeyRetrieveRaw({ identifier: 'contract-token' }));
      assertMatches('TokenView', view);
      assert.equal(view.key.length, 60);
      // the key authenticates
      const asToken = clients(srv, view.key);
      assert.equal((await body(asToken.core.coreUsersMeRetrieveRaw())).user.username, 'akadmin');
      assert.equal(
        await status(
          api.core.coreTokensSetKeyCreateRaw({
            identifier: 'contract-token',
            tokenSetKeyRequest: { key: 'my-own-key-0123456789abcdefghijklmn' },
          }),
        ),
        204,
      );
      assert.equal((await failure(asToken.core.coreUsersMeRetrieveRaw())).status, 403);
      assert.equal(
        (await body(clients(srv, 'my-own-key-0123456789abcdefghijklmn').core.coreUsersMeRetrieveRaw())).user.username,
        'akadmin',
      );
      const patched = await body(
        api.core.coreTokensPartialUpdateRaw({
          identifier: 'contract-token',
          patchedTokenRequest: { description: 'changed', intent: 'api' as never },
        }),
      );
      assert.equal(patched.description, 'changed');
      const put = await body(
        api.core.coreTokensUpdateRaw({
          identifier: 'contract-token',
          tokenRequest: { identifier: 'contract-token-2', intent: 'api' as never, expiring: false },
        }),
      );
      assertMatches('Token', put);
      assertArrayOf('UsedBy', await body(api.core.coreTokensUsedByListRaw({ identifier: 'contract-token-2' })));
      const badIntent = await failure(api.core.coreTokensCreateRaw({ tokenRequest: { identifier: 'x', intent: 'recovery' as never } }));
      assert.deepEqual(badIntent.body, { intent: ['Invalid intent recovery'] });
      const badId = await failure(api.core.coreTokensCreateRaw({ tokenRequest: { identifier: 'has spaces' } }));
      assert.deepEqual(badId.body, { identifier: ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'] });
      // an expiring API token whose time has passed no longer authenticates
      const exp = await body(
        api.core.coreTokensCreateRaw({ tokenRequest: { identifier: 'short-lived', intent: 'api' as never, expiring: true } }),
      );
      assert.ok(new Date(exp.expires).getTime() > Date.now());
      const key = (await body(api.core.coreTokensViewKeyRetrieveRaw({ identifier: 'short-lived' }))).key;
      await srv.app.store.db
        .updateTable('tokens')
        .set({ expires: new Date(Date.now() - 1000).toISOString() })
        .where('identifier', '=', 'short-lived')
        .execute();
      const expired = await failure(clients(srv, key).core.coreUsersMeRetrieveRaw());
      assert.deepEqual(expired, { status: 403, body: { detail: 'Token invalid/expired' } });
      assert.equal(await status(api.core.coreTokensDestroyRaw({ identifier: 'contract-token-2' })), 204);
    });

    it('a normal user sees only their own tokens and gets 403 on admin lists', async () => {
      const u = await body(api.core.coreUsersCreateRaw({ userRequest: { username: 'plain', name: 'Plain' } }));
      await api.core.coreTokensCreateRaw({
        tokenRequest: { identifier: 'plain-token', intent: 'api' as never, user: u.pk, expiring: false },
      });
      await api.core.coreTokensSetKeyCreateRaw({
        identifier: 'plain-token',
        tokenSetKeyRequest: { key: 'plain-key-0123456789abcdefghijklmno' },
      });
      const plain = clients(srv, 'plain-key-0123456789abcdefghijklmno');
      const mine = await body(plain.core.coreTokensListRaw({}));
      assert.deepEqual(
        mine.results.map((t: { identifier: string }) => t.identifier),
        ['plain-token'],
      );
      const denied = await failure(plain.flows.flowsInstancesListRaw({}));
      assert.deepEqual(denied, { status: 403, body: { detail: 'You do not have permission to perform this action.' } });
      const noAuth = await fetch(`${srv.api}/flows/instances/`);
      assert.equal(noAuth.status, 403);
      assert.deepEqual(await noAuth.json(), { detail: 'Authentication credentials were not provided.' });
    });

    it('root config, version and the OpenAPI document', async () => {
      assertMatches('Config', await body(api.root.rootConfigRetrieveRaw()));
      assertMatches('Version', await body(api.admin.adminVersionRetrieveRaw()));
      const schema = await api.schema.schemaRetrieve({ format: 'json' as never });
      assert.equal((schema as { openapi: string }).openapi, '3.0.3');
      const paths = Object.keys((schema as { paths: Record<string, unknown> }).paths);
      for (const p of [
        '/flows/instances/',
        '/stages/identification/',
        '/stages/captcha/',
        '/stages/authenticator/validate/',
        '/flows/executor/{flow_slug}/',
        '/core/tokens/{identifier}/view_key/',
      ])
        assert.ok(paths.includes(p), p);
      const yaml = await fetch(`${srv.api}/schema/`);
      assert.match(yaml.headers.get('content-type') ?? '', /openapi/);
      assert.match(await yaml.text(), /^openapi: 3\.0\.3/m);
      // gzipped when asked (fetch takes it off), an entity tag, and a 304 for a client that has it
      const json = await fetch(`${srv.api}/schema/?format=json`, { headers: { 'accept-encoding': 'gzip' } });
      assert.equal(json.headers.get('content-encoding'), 'gzip');
      assert.deepEqual(await json.json(), schema);
      const etag = json.headers.get('etag') ?? '';
      assert.match(etag, /^"[\w-]{22}"$/);
      assert.notEqual(yaml.headers.get('etag'), etag, 'the YAML has a tag of its own');
      const again = await fetch(`${srv.api}/schema/?format=json`, { headers: { 'if-none-match': etag } });
      assert.equal(again.status, 304);
      assert.equal(await again.text(), '');
      const plain = await fetch(`${srv.api}/schema/?format=json`, { headers: { 'accept-encoding': 'identity' } });
      assert.equal(plain.headers.get('content-encoding'), null);
      assert.equal(plain.headers.get('etag'), etag);
    });
  });
}
