/**
 * Writes that race: two PATCHes that would each close a cycle (A under B, B under A), and two creates of one name.
 * Exactly one of each pair wins and the other gets authentik's 400 — never a stored cycle, never a 500 — in one
 * process, and with PostgreSQL on two nodes sharing the database (each its own connection pool).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { describePostgres } from '../helpers/postgres.js';
import { createGroup } from './setup.js';

async function race(a: TestServer, b: TestServer, rounds: number) {
  for (let i = 0; i < rounds; i++) {
    const x = await createGroup(a, { name: `race-x-${i}` });
    const y = await createGroup(a, { name: `race-y-${i}` });
    const [rx, ry] = await Promise.all([
      call(a, 'PATCH', `/core/groups/${x.pk}/`, { parents: [y.pk] }),
      call(b, 'PATCH', `/core/groups/${y.pk}/`, { parents: [x.pk] }),
    ]);
    assert.deepEqual([rx.status, ry.status].sort(), [200, 400], `round ${i}: ${rx.status} ${ry.status}`);
    const loser = rx.status === 400 ? rx : ry;
    assert.match(loser.body.parents[0], /^Cannot set group "race-[xy]-\d+" as parent: it is a descendant of this group/);
    const edges = await a.app.store.db.selectFrom('group_parents').selectAll().where('child_uuid', 'in', [x.pk, y.pk]).execute();
    assert.equal(edges.length, 1, `round ${i}: one edge stored`);

    const [c1, c2] = await Promise.all([
      call(a, 'POST', '/core/groups/', { name: `race-same-${i}` }),
      call(b, 'POST', '/core/groups/', { name: `race-same-${i}` }),
    ]);
    assert.deepEqual([c1.status, c2.status].sort(), [201, 400], `round ${i}: ${c1.status} ${c2.status}`);
    assert.deepEqual((c1.status === 400 ? c1 : c2).body, { name: ['Group with this name already exists.'] });
  }
}

for (const dialect of dialects()) {
  describe(`groups: racing writes in one process (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv.close());

    it('of two PATCHes closing a cycle, or two creates of one name, exactly one wins', async () => {
      await race(srv, srv, 8);
    });
  });
}

describePostgres('groups: racing writes on two nodes', 'two nodes share one PostgreSQL database', () => {
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    a = await startServer('postgres');
    b = await startServer('postgres', { databaseUrl: a.config.databaseUrl });
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  it('of two PATCHes closing a cycle, or two creates of one name, on two nodes, exactly one wins', async () => {
    await race(a, b, 8);
    // and each node sees the other's groups and inherited superuser status at once
    const top = await createGroup(a, { name: 'two-node-top', is_superuser: true });
    const child = await createGroup(b, { name: 'two-node-child', parents: [top.pk], users: [1] });
    assert.deepEqual((await call(a, 'GET', `/core/groups/${top.pk}/`)).body.children, [child.pk]);
  });
});
