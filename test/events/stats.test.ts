/**
 * The audit log's aggregates — `volume/`, `stats/`, `top_per_user/` — through the official client, over events
 * recorded at known times (written straight into the table: the aggregates are what is tested), with the list's
 * filters, bad parameters (400 on the parameter) and the permission (403 without `view_event`).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Configuration, EventsApi } from '@goauthentik/api';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { createUser } from '../helpers/flows.js';
import { tokenFor } from '../groups/setup.js';

const DAY = 86_400_000;

for (const dialect of dialects()) {
  describe(`event aggregates (${dialect})`, () => {
    let srv: TestServer;
    let events: EventsApi;
    const today = new Date(Math.floor(Date.now() / DAY) * DAY);
    const at = (daysAgo: number, hours = 1) => new Date(today.getTime() - daysAgo * DAY + hours * 3_600_000).toISOString();
    const day = (daysAgo: number) => `${new Date(today.getTime() - daysAgo * DAY).toISOString().slice(0, 10)}T00:00:00Z`;

    async function record(action: string, created: string, user: { pk: number; username: string } | null, context: object = {}) {
      await srv.app.store.db
        .insertInto('events')
        .values({
          event_uuid: randomUUID(),
          action,
          app: 'keystage-test',
          user: JSON.stringify(user ? { ...user, email: '' } : {}),
          username: user?.username ?? '',
          context: JSON.stringify(context),
          client_ip: '192.0.2.1',
          created,
          expires: new Date(Date.now() + 30 * DAY).toISOString(),
        })
        .execute();
    }

    before(async () => {
      srv = await startServer(dialect);
      events = new EventsApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      // only this test's events
      await srv.app.store.db.deleteFrom('events').execute();
      const ann = { pk: 101, username: 'ann' };
      const bob = { pk: 102, username: 'bob' };
      const wiki = { pk: 'a1b2', app: 'authentik_core', model_name: 'application', name: 'Wiki' };
      const mail = { pk: 'c3d4', app: 'authentik_core', model_name: 'application', name: 'Mail' };
      await record('login', at(0), ann);
      await record('login', at(0), bob);
      await record('login', at(1), ann);
      await record('login_failed', at(1), null);
      await record('login', at(9), ann);
      for (const u of [ann, ann, bob]) await record('authorize_application', at(0), u, { authorized_application: wiki });
      await record('authorize_application', at(2), bob, { authorized_application: mail });
    });
    after(async () => srv.close());

    it('volume: per action and day over history_days, filtered like the list', async () => {
      const raw = await (await events.eventsEventsVolumeListRaw({})).raw.json();
      for (const v of raw) assertMatches('EventVolume', v);
      const seen = raw.map((v: { action: string; time: string; count: number }) => [v.action, v.time, v.count]);
      assert.deepEqual(seen, [
        ['authorize_application', day(2), 1],
        ['login', day(1), 1],
        ['login_failed', day(1), 1],
        ['authorize_application', day(0), 3],
        ['login', day(0), 2],
      ]);
      const longer = await call(srv, 'GET', '/events/events/volume/?history_days=10&actions=login');
      assert.deepEqual(
        longer.body.map((v: { time: string; count: number }) => [v.time, v.count]),
        [
          [day(9), 1],
          [day(1), 1],
          [day(0), 2],
        ],
      );
      assert.equal((await call(srv, 'GET', '/events/events/volume/?history_days=soon')).status, 400);
    });

    it('stats: unique users and the counts within each step', async () => {
      const s = await (await events.eventsEventsStatsRetrieveRaw({ countSteps: ['days=5', 'weeks=2'] })).raw.json();
      assertMatches('EventStats', s);
      // (the event of nine days ago is outside five days; today's are at 01:00 UTC, counted even before then)
      assert.deepEqual(s, { unique_users: 2, count_step: { 'days=5': 8, 'weeks=2': 9 } });
      const onlyAnn = (await call(srv, 'GET', '/events/events/stats/?count_steps=weeks=2&username=ann')).body;
      assert.deepEqual(onlyAnn, { unique_users: 1, count_step: { 'weeks=2': 5 } });
      const bad = await call(srv, 'GET', '/events/events/stats/?count_steps=whenever');
      assert.equal(bad.status, 400);
      assert.ok(bad.body.count_steps);
      assert.deepEqual((await call(srv, 'GET', '/events/events/stats/')).body, { count_steps: ['This field is required.'] });
    });

    it('top_per_user: applications by authorizations, with their distinct users', async () => {
      const top = await (await events.eventsEventsTopPerUserListRaw({ action: 'authorize_application' })).raw.json();
      for (const t of top) assertMatches('EventTopPerUser', t);
      assert.deepEqual(top, [
        { application: { pk: 'a1b2', app: 'authentik_core', model_name: 'application', name: 'Wiki' }, counted_events: 3, unique_users: 2 },
        { application: { pk: 'c3d4', app: 'authentik_core', model_name: 'application', name: 'Mail' }, counted_events: 1, unique_users: 1 },
      ]);
      const one = await call(srv, 'GET', '/events/events/top_per_user/?action=authorize_application&top_n=1');
      assert.equal(one.body.length, 1);
      assert.deepEqual((await call(srv, 'GET', '/events/events/top_per_user/')).body, [], 'login events authorize no application');
    });

    it('without view_event: 403', async () => {
      const pk = await createUser(srv, 'no-events', 'no-events-pass');
      const token = await tokenFor(srv, pk, 'no-events-key-0123456789abcdefghijklmnopq');
      for (const path of ['/events/events/volume/', '/events/events/stats/?count_steps=days=1', '/events/events/top_per_user/'])
        assert.equal((await call(srv, 'GET', path, undefined, { authorization: `Bearer ${token}` })).status, 403, path);
    });
  });
}
