/**
 * Admin writes that race each other, sent as real parallel requests: what each one's validation read may change
 * before its transaction (a name taken, the object or one it refers to deleted). The answer is the one a sequential
 * order gives — 201/200, 400 with DRF's field error, 404 — never a 500, and the database is left consistent.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { untilSomeoneWaits } from '../helpers/pg-locks.js';

const ROUNDS = 8;

for (const dialect of dialects()) {
  describe(`admin writes at the same time (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv?.close());

    it('the same unique value created twice at once: one 201, one 400 with the field error', async () => {
      const cases = [
        {
          path: '/flows/instances/',
          body: (i: number) => ({ name: `f${i}`, slug: `same-slug-${i}`, title: 't', designation: 'authentication' }),
          field: 'slug',
          message: 'Flow with this slug already exists.',
        },
        {
          path: '/core/users/',
          body: (i: number) => ({ username: `same-user-${i}`, name: 'n' }),
          field: 'username',
          message: 'This field must be unique.',
        },
        {
          path: '/stages/dummy/',
          body: (i: number) => ({ name: `same-stage-${i}` }),
          field: 'name',
          message: 'stage with this name already exists.',
        },
        {
          path: '/policies/dummy/',
          body: (i: number) => ({ name: `same-policy-${i}` }),
          field: 'name',
          message: 'policy with this name already exists.',
        },
      ];
      for (const c of cases) {
        for (let i = 0; i < ROUNDS; i++) {
          const answers = await Promise.all([call(srv, 'POST', c.path, c.body(i)), call(srv, 'POST', c.path, c.body(i))]);
          const statuses = answers.map((a) => a.status).sort();
          assert.deepEqual(statuses, [201, 400], `${c.path} round ${i}: ${JSON.stringify(answers.map((a) => a.body))}`);
          assert.deepEqual(answers.find((a) => a.status === 400)!.body, { [c.field]: [c.message] });
        }
        const list = await call(srv, 'GET', `${c.path}?page_size=100&search=same-`);
        assert.equal(list.status, 200);
        assert.equal(list.body.pagination.count, ROUNDS, `${c.path}: one object per value`);
      }
    });

    it('an update at the same time as the deletion: 200 or 404, and nothing left pointing at the deleted object', async () => {
      const user = await call(srv, 'POST', '/core/users/', { username: 'racing-member', name: 'm' });
      assert.equal(user.status, 201);
      const seen = new Set<number>();
      for (let i = 0; i < ROUNDS; i++) {
        const group = await call(srv, 'POST', '/core/groups/', { name: `racing-group-${i}` });
        assert.equal(group.status, 201);
        const url = `/core/groups/${group.body.pk}/`;
        const [put, del] = await Promise.all([
          call(srv, 'PUT', url, { name: `racing-group-${i}-renamed`, users: [user.body.pk] }),
          call(srv, 'DELETE', url),
        ]);
        seen.add(put.status);
        assert.ok(put.status === 200 || put.status === 404, `PUT answered ${put.status}: ${JSON.stringify(put.body)}`);
        if (put.status === 404) assert.deepEqual(put.body, { detail: 'No Group matches the given query.' });
        assert.equal(del.status, 204);
        assert.equal((await call(srv, 'GET', url)).status, 404);
      }
      // the member belongs to no group that is gone
      const member = await call(srv, 'GET', `/core/users/${user.body.pk}/`);
      assert.equal(member.status, 200);
      assert.deepEqual(member.body.groups, []);
      assert.ok(seen.size >= 1);
    });

    it('a membership set by PATCH while add_user adds the same member (which takes no admin-write lock): both succeed', async () => {
      const user = await call(srv, 'POST', '/core/users/', { username: 'joined-twice', name: 'j' });
      assert.equal(user.status, 201);
      for (let i = 0; i < 3 * ROUNDS; i++) {
        const group = await call(srv, 'POST', '/core/groups/', { name: `joined-twice-${i}` });
        const add = () => call(srv, 'POST', `/core/groups/${group.body.pk}/add_user/`, { pk: user.body.pk });
        const [patched, patchedUser, ...added] = await Promise.all([
          call(srv, 'PATCH', `/core/groups/${group.body.pk}/`, { users: [user.body.pk] }),
          call(srv, 'PATCH', `/core/users/${user.body.pk}/`, { groups: [group.body.pk] }),
          add(),
          add(),
          add(),
          add(),
        ]);
        assert.equal(patched.status, 200, JSON.stringify(patched.body));
        assert.equal(patchedUser.status, 200, JSON.stringify(patchedUser.body));
        assert.deepEqual(
          added.map((a) => a.status),
          [204, 204, 204, 204],
        );
        const members = await call(srv, 'GET', `/core/groups/${group.body.pk}/`);
        assert.deepEqual(members.body.users, [user.body.pk]);
      }
    });

    it('a write PostgreSQL aborts to resolve a deadlock: 503 with Retry-After, and nothing of it written', async (t) => {
      if (dialect !== 'postgres') return t.skip('PostgreSQL only: SQLite writers take turns and cannot deadlock');
      const user = await call(srv, 'POST', '/core/users/', { username: 'deadlocked', name: 'before' });
      assert.equal(user.status, 201);
      const other = new pg.Client({ connectionString: srv.config.databaseUrl });
      await other.connect();
      try {
        // the other transaction holds the user's row; the API's write takes the admin-write lock, then waits for
        // that row; the other then waits for the admin-write lock: a deadlock, which the API's transaction loses
        // (the other checks for deadlocks only after ten seconds, PostgreSQL's default for the request is one)
        await other.query("set deadlock_timeout = '10s'");
        await other.query('begin');
        await other.query("update users set name = 'other' where id = $1", [user.body.pk]);
        const write = call(srv, 'PATCH', `/core/users/${user.body.pk}/`, { name: 'from the API' });
        assert.ok(await untilSomeoneWaits(other), 'the write waits for the user row');
        const locked = other.query('select epoch from keystage_config_epoch where id = 1 for update');
        const r = await write;
        assert.equal(r.status, 503, JSON.stringify(r.body));
        assert.deepEqual(r.body, { detail: 'The request collided with another one; try again.' });
        assert.equal(r.headers.get('retry-after'), '1');
        await locked;
        await other.query('rollback');
      } finally {
        await other.end();
      }
      assert.equal((await call(srv, 'GET', `/core/users/${user.body.pk}/`)).body.name, 'before');
      // and again, with nobody in the way
      assert.equal((await call(srv, 'PATCH', `/core/users/${user.body.pk}/`, { name: 'from the API' })).status, 200);
    });

    it('two tokens given one key at once (set_key): one 204, the other 400 "already exists"', async () => {
      for (let i = 0; i < ROUNDS; i++) {
        const made = await Promise.all(
          ['a', 'b'].map((x) => call(srv, 'POST', '/core/tokens/', { identifier: `same-key-${x}-${i}`, intent: 'api' })),
        );
        const key = `a-key-given-twice-at-once-${i}-${'k'.repeat(40)}`;
        const answers = await Promise.all(made.map((m) => call(srv, 'POST', `/core/tokens/${m.body.identifier}/set_key/`, { key })));
        assert.deepEqual(answers.map((a) => a.status).sort(), [204, 400], JSON.stringify(answers.map((a) => a.body)));
        assert.deepEqual(answers.find((a) => a.status === 400)!.body, { key: ['Token with this key already exists.'] });
      }
    });

    it('a write referring to an object deleted at the same time: 201 then gone with it, or 400 "object does not exist"', async () => {
      const flow = await call(srv, 'POST', '/flows/instances/', {
        name: 'bind-race',
        slug: 'bind-race',
        title: 't',
        designation: 'authentication',
      });
      assert.equal(flow.status, 201);
      for (let i = 0; i < ROUNDS; i++) {
        const stage = await call(srv, 'POST', '/stages/dummy/', { name: `bound-racing-${i}` });
        assert.equal(stage.status, 201);
        const [bind, del] = await Promise.all([
          call(srv, 'POST', '/flows/bindings/', { target: flow.body.pk, stage: stage.body.pk, order: i }),
          call(srv, 'DELETE', `/stages/dummy/${stage.body.pk}/`),
        ]);
        assert.equal(del.status, 204);
        if (bind.status === 400) assert.deepEqual(bind.body, { stage: [`Invalid pk "${stage.body.pk}" - object does not exist.`] });
        else assert.equal(bind.status, 201, JSON.stringify(bind.body));
      }
      // whichever came first, no binding is left to a deleted stage
      const bindings = await call(srv, 'GET', `/flows/bindings/?target=${flow.body.pk}`);
      assert.equal(bindings.status, 200);
      assert.deepEqual(bindings.body.results, []);
    });
  });
}
