/**
 * An LDAP source's `sync_outgoing_trigger_mode` with a SCIM provider (both against small servers on 127.0.0.1):
 * `none` — what the source's sync writes is not pushed (until the provider's own full sync); `deferred_end` — not
 * pushed change by change, but the sync ends by asking every outgoing provider for a full sync; `immediate` — each
 * change is queued and pushed as it happens. Changes made outside the source's sync are pushed as ever.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { FakeLdap } from '../helpers/fake-ldap.js';
import { until } from '../helpers/wait.js';
import { type FakeScim, startFakeScim } from '../providers/scim/fake-scim.js';

const BASE = 'dc=example,dc=org';
const SERVICE = { dn: `cn=keystage,${BASE}`, password: 'service secret' };
const TOKEN = 'scim-token';
/** longer than the SCIM scheduler's look for queued changes (every second), twice */
const SCHEDULER_LOOKS_MS = 2_500;

const person = (uid: string) => ({
  objectClass: ['inetOrgPerson', 'person'],
  uid,
  cn: `${uid} Example`,
  mail: `${uid}@example.org`,
  entryUUID: `uuid-${uid}`,
  userPassword: `${uid} directory password`,
});
const dnOf = (uid: string) => `uid=${uid},ou=users,${BASE}`;
const remote = (scim: FakeScim, userName: string) => [...scim.users.values()].find((u) => u.userName === userName);

for (const dialect of dialects()) {
  describe(`LDAP source and outgoing SCIM providers (${dialect})`, () => {
    let srv: TestServer;
    let ldap: FakeLdap;
    let scim: FakeScim;
    before(async () => {
      srv = await startServer(dialect);
      ldap = await new FakeLdap({ bindDn: SERVICE.dn, bindPassword: SERVICE.password }).start();
      scim = await startFakeScim({ token: TOKEN });
      ldap.add(dnOf('amy'), person('amy'));
    });
    after(async () => {
      await srv.close();
      await ldap.close();
      await scim.close();
    });

    const managedPk = async (path: string, managed: string) => {
      const r = await call(srv, 'GET', `${path}?managed=${encodeURIComponent(managed)}`);
      assert.equal(r.body.results.length, 1, managed);
      return r.body.results[0].pk as string;
    };
    /** waits (bounded) until a sync of the source started after `since` has finished */
    const ldapSynced = (since: string) =>
      until('the LDAP sync', async () => {
        const row = await srv.app.services.db
          .selectFrom('ldap_sources')
          .select(['last_sync_started', 'sync_claimed_until', 'last_sync_status', 'last_sync_messages'])
          .executeTakeFirstOrThrow();
        const done = row.last_sync_started && row.last_sync_started >= since && !row.sync_claimed_until && row.last_sync_status;
        return done ? row : undefined;
      });
    const scimStatus = async (pk: number) => (await call(srv, 'GET', `/providers/scim/${pk}/sync/status/`)).body;
    const since = () => new Date(Date.now() - 5).toISOString();

    it('inhibits the queue for the sync unless immediate; deferred_end ends with a full sync', async () => {
      const provider = await call(srv, 'POST', '/providers/scim/', {
        name: 'to-app',
        url: scim.url,
        token: TOKEN,
        property_mappings: [await managedPk('/propertymappings/provider/scim/', 'goauthentik.io/providers/scim/user')],
      });
      assert.equal(provider.status, 201, JSON.stringify(provider.body));
      const pk = provider.body.pk as number;
      const first = await until('the first full sync', async () => (await scimStatus(pk)).last_successful_sync as string | undefined);

      // none: the sync's users are not pushed
      const t0 = since();
      const created = await call(srv, 'POST', '/sources/ldap/', {
        name: 'Directory',
        slug: 'dir',
        server_uri: ldap.url,
        bind_cn: SERVICE.dn,
        bind_password: SERVICE.password,
        base_dn: BASE,
        additional_user_dn: 'ou=users',
        user_object_filter: '(objectClass=person)',
        object_uniqueness_field: 'entryUUID',
        sync_groups: false,
        sync_users_password: false,
        sync_outgoing_trigger_mode: 'none',
        user_property_mappings: [
          await managedPk('/propertymappings/source/ldap/', 'goauthentik.io/sources/ldap/openldap-uid'),
          await managedPk('/propertymappings/source/ldap/', 'goauthentik.io/sources/ldap/openldap-cn'),
        ],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.sync_outgoing_trigger_mode, 'none');
      assert.equal((await ldapSynced(t0)).last_sync_status, 'done');
      const amy = (await call(srv, 'GET', '/core/users/?username=amy')).body.results[0];
      assert.ok(amy, 'the sync made amy');
      await new Promise((r) => setTimeout(r, SCHEDULER_LOOKS_MS));
      assert.equal(remote(scim, 'amy'), undefined, 'amy was not pushed');
      assert.equal((await scimStatus(pk)).last_successful_sync, first, 'no full sync was asked for');
      const markers = await srv.app.services.db.selectFrom('outgoing_sync_inhibits').selectAll().execute();
      assert.deepEqual(markers, [], 'each inhibiting transaction took its row away');
      // a change made outside the sync is pushed as ever
      assert.equal((await call(srv, 'PATCH', `/core/users/${amy.pk}/`, { name: 'Amy Renamed' })).status, 200);
      await until('amy pushed', async () => remote(scim, 'amy'));

      // deferred_end: the sync's new user is pushed by the full sync it asks for at its end
      ldap.add(dnOf('ben'), person('ben'));
      const t1 = since();
      assert.equal((await call(srv, 'PATCH', '/sources/ldap/dir/', { sync_outgoing_trigger_mode: 'deferred_end' })).status, 200);
      assert.equal((await ldapSynced(t1)).last_sync_status, 'done');
      await until('ben pushed', async () => remote(scim, 'ben'));
      const second = await until('a second full sync', async () => {
        const s = await scimStatus(pk);
        return s.last_successful_sync > first && !s.is_running ? (s.last_successful_sync as string) : undefined;
      });

      // immediate: pushed change by change, no full sync
      ldap.add(dnOf('cal'), person('cal'));
      const t2 = since();
      assert.equal((await call(srv, 'PATCH', '/sources/ldap/dir/', { sync_outgoing_trigger_mode: 'immediate' })).status, 200);
      assert.equal((await ldapSynced(t2)).last_sync_status, 'done');
      await until('cal pushed', async () => remote(scim, 'cal'));
      await new Promise((r) => setTimeout(r, SCHEDULER_LOOKS_MS));
      assert.equal((await scimStatus(pk)).last_successful_sync, second, 'no full sync was asked for');
    });
  });
}
