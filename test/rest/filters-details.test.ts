/**
 * List and token details from api-surface.md: the users `attributes` filter, case-sensitive `path_startswith`,
 * group filters that refuse unknown values, secrets that cannot be used for ordering, API-token expiry that a
 * write cannot push out, and `set_key` without a key.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';

const usernames = (r: { body: { results: { username: string }[] } }) => r.body.results.map((u) => u.username).sort();

for (const dialect of dialects()) {
  describe(`list filters and token details (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
      const users = [
        {
          username: 'attr-a',
          name: 'A',
          path: 'Staff/berlin',
          attributes: { dept: 'ops', level: 3, remote: true, tags: ['x'], nested: { k: 'v' } },
        },
        { username: 'attr-b', name: 'B', path: 'staff/paris', attributes: { dept: 'ops', level: 4, remote: false } },
        { username: 'attr-c', name: 'C', path: 'Staff', attributes: { dept: 'dev' } },
      ];
      for (const u of users) assert.equal((await call(srv, 'POST', '/core/users/', u)).status, 201);
    });
    after(async () => srv.close());

    it('attributes matches every key exactly, nested keys with __, and bad JSON is a top-level list error', async () => {
      const q = (o: unknown) =>
        call(srv, 'GET', `/core/users/?attributes=${encodeURIComponent(typeof o === 'string' ? o : JSON.stringify(o))}`);
      assert.deepEqual(usernames(await q({ dept: 'ops' })), ['attr-a', 'attr-b']);
      assert.deepEqual(usernames(await q({ dept: 'ops', level: 4 })), ['attr-b']);
      assert.deepEqual(usernames(await q({ remote: true })), ['attr-a']);
      assert.deepEqual(usernames(await q({ nested__k: 'v' })), ['attr-a']);
      assert.deepEqual(usernames(await q({ tags: ['x'] })), ['attr-a']);
      assert.deepEqual(usernames(await q({ level: '3' })), [], 'a string is not the number 3');
      assert.deepEqual(usernames(await q({ dept: 'nobody' })), []);
      const bad = await q('{not json');
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body, ['filter: failed to parse JSON']);
      const notObject = await q('[1]');
      assert.equal(notObject.status, 400);
      assert.deepEqual(notObject.body, ['filter: value must be key:value mapping']);
    });

    it('path_startswith is a case-sensitive prefix', async () => {
      const r = await call(srv, 'GET', '/core/users/?path_startswith=Staff');
      assert.deepEqual(usernames(r), ['attr-a', 'attr-c']);
      const lower = await call(srv, 'GET', '/core/users/?path_startswith=staff');
      assert.deepEqual(usernames(lower), ['attr-b']);
      const pct = await call(srv, 'GET', '/core/users/?path_startswith=%25');
      assert.deepEqual(usernames(pct), [], '% is not a wildcard');
    });

    it('groups_by_name and groups_by_pk refuse groups that do not exist', async () => {
      const r = await call(srv, 'GET', '/core/users/?groups_by_name=no-such-group');
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, { groups_by_name: ['Select a valid choice. no-such-group is not one of the available choices.'] });
      const missing = '00000000-0000-4000-8000-000000000000';
      const p = await call(srv, 'GET', `/core/users/?groups_by_pk=${missing}`);
      assert.equal(p.status, 400);
      assert.deepEqual(p.body, { groups_by_pk: [`Select a valid choice. ${missing} is not one of the available choices.`] });
      const admins = await call(srv, 'GET', `/core/users/?groups_by_name=${encodeURIComponent('authentik Admins')}`);
      assert.equal(admins.status, 200);
      assert.deepEqual(usernames(admins), ['akadmin']);
    });

    it('a write-only secret (captcha private_key) is not an ordering', async () => {
      for (const [name, key] of [
        ['cap-z', 'aaa'],
        ['cap-a', 'zzz'],
      ]) {
        assert.equal((await call(srv, 'POST', '/stages/captcha/', { name, public_key: 'p', private_key: key })).status, 201);
      }
      const byKey = await call(srv, 'GET', '/stages/captcha/?ordering=private_key');
      const byName = await call(srv, 'GET', '/stages/captcha/');
      assert.equal(byKey.status, 200);
      assert.deepEqual(
        byKey.body.results.map((s: { name: string }) => s.name),
        byName.body.results.map((s: { name: string }) => s.name),
        'unknown ordering names are dropped, so the default (name) applies',
      );
      assert.ok(byKey.body.results.every((s: Record<string, unknown>) => !('private_key' in s)));
    });

    it('an API token’s expiry is set by the server on every write; set_key without a key is an empty 400', async () => {
      const created = await call(srv, 'POST', '/core/tokens/', { identifier: 'exp-test', intent: 'api' });
      assert.equal(created.status, 201);
      const dayMs = 24 * 3600 * 1000;
      const near = (iso: string) => Math.abs(new Date(iso).getTime() - (Date.now() + dayMs)) < 60_000;
      assert.ok(near(created.body.expires), created.body.expires);
      const patched = await call(srv, 'PATCH', '/core/tokens/exp-test/', { expires: '2099-01-01T00:00:00Z', description: 'later' });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.description, 'later');
      assert.ok(near(patched.body.expires), `PATCH kept the server's expiry, not ${patched.body.expires}`);
      const row = await srv.app.store.db
        .selectFrom('tokens')
        .select('expires')
        .where('identifier', '=', 'exp-test')
        .executeTakeFirstOrThrow();
      assert.ok(near(String(row.expires)));

      const noKey = await call(srv, 'POST', '/core/tokens/exp-test/set_key/', {});
      assert.equal(noKey.status, 400);
      assert.equal(noKey.body, undefined, 'empty body');
      const ok = await call(srv, 'POST', '/core/tokens/exp-test/set_key/', { key: 'k'.repeat(40) });
      assert.equal(ok.status, 204);
    });
  });
}
