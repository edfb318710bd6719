/**
 * The LDAP source against a directory on 127.0.0.1 (test/helpers/fake-ldap.ts, OpenLDAP's and Active Directory's
 * answers): the admin API as authentik's (the managed mappings, validation, the sealed bind password, connectivity,
 * sync status, debug), a sync made on save (users, groups and memberships through the mappings, a failing mapping
 * recorded, objects the directory no longer has removed), a login through the default authentication flow with the
 * directory's password (authentik's LDAPBackend), and a password change written to the directory first (the person's
 * other sessions ending, as with any password change).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { Browser } from '../helpers/browser.js';
import { FakeLdap } from '../helpers/fake-ldap.js';
import { guidToString, sidToString } from '../../src/sources/ldap/entries.js';
import { claimSync } from '../../src/sources/ldap/scheduler.js';
import { mapEntry } from '../../src/sources/ldap/mappings.js';
import { AD_COMPLEXITY_MESSAGE, characterKinds, holdsName } from '../../src/sources/ldap/password-complexity.js';
import { MANAGED_LDAP_MAPPINGS } from '../../src/propertymappings/managed.js';
import { sharedRuntimeStatus } from '../../src/expressions/index.js';
import fs from 'node:fs';
import path from 'node:path';
import { fixture } from '../helpers/certificates.js';
import { sessionKeyOf } from '../../src/sessions/session-hash.js';

const BASE = 'dc=example,dc=org';
const SERVICE = { dn: `cn=keystage,${BASE}`, password: 'service secret' };

function person(uid: string, extra: Record<string, string | string[]> = {}) {
  return {
    objectClass: ['inetOrgPerson', 'person'],
    uid,
    cn: `${uid[0]!.toUpperCase()}${uid.slice(1)} Example`,
    mail: `${uid}@example.org`,
    entryUUID: `uuid-${uid}`,
    userPassword: `${uid} directory password`,
    ...extra,
  };
}

const dnOf = (uid: string) => `uid=${uid},ou=users,${BASE}`;

async function managedPk(srv: TestServer, managed: string): Promise<string> {
  const r = await call(srv, 'GET', `/propertymappings/source/ldap/?managed=${encodeURIComponent(managed)}`);
  assert.equal(r.status, 200);
  assert.equal(r.body.results.length, 1, managed);
  return r.body.results[0].pk;
}

/** waits (bounded) until a sync started after `since` has finished */
async function synced(srv: TestServer, slug: string, since: string) {
  const db = srv.app.services.db;
  for (let i = 0; i < 150; i++) {
    const row = await db
      .selectFrom('ldap_sources as l')
      .innerJoin('sources as s', 's.source_uuid', 'l.source_uuid')
      .select(['l.last_sync_started', 'l.sync_claimed_until', 'l.last_sync_status', 'l.last_sync_messages', 'l.connectivity'])
      .where('s.slug', '=', slug)
      .executeTakeFirstOrThrow();
    if (row.last_sync_started && row.last_sync_started >= since && !row.sync_claimed_until && row.last_sync_status) return row;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no sync of ${slug} finished`);
}

async function loginBrowser(srv: TestServer, username: string, password: string) {
  const b = new Browser(srv.api);
  await b.get('default-authentication-flow');
  await b.solve('default-authentication-flow', { component: 'ak-stage-identification', uidField: username });
  const done = await b.solve('default-authentication-flow', { component: 'ak-stage-password', password });
  return { b, component: done.body.component as string };
}

const login = async (srv: TestServer, username: string, password: string) => (await loginBrowser(srv, username, password)).component;

/** the default password change flow, as the person on their settings page */
async function changeInFlow(b: Browser, password: string) {
  const CHANGE = 'default-password-change';
  assert.equal((await b.get(CHANGE)).body.component, 'ak-stage-prompt');
  return (await b.solve(CHANGE, { component: 'ak-stage-prompt', password, password_repeat: password } as never)).body;
}

describe("Active Directory's password complexity rule", () => {
  it('counts the kinds of character Microsoft counts, each once', () => {
    assert.equal(characterKinds(''), 0);
    assert.equal(characterKinds('aaaa'), 1);
    assert.equal(characterKinds('aB'), 2);
    assert.equal(characterKinds('aB3'), 3);
    assert.equal(characterKinds('aB3!'), 4);
    // letters beyond ASCII without case, other digits, a symbol outside Microsoft's list (not counted)
    assert.equal(characterKinds('日本٣'), 2);
    assert.equal(characterKinds('ab€'), 1);
    assert.equal(characterKinds('äÖ'), 2, 'cased letters beyond ASCII are lower and upper case');
  });

  it('finds the account name and the parts of the display name of three characters or more', () => {
    assert.equal(holdsName('my-ERIN-pass', 'erin', ''), true);
    assert.equal(holdsName('my-er-pass', 'er', ''), false, 'an account name under three characters is not looked for');
    assert.equal(holdsName('xJONESx', 'erin', 'Erin Sample-Jones'), true);
    assert.equal(holdsName('x_sample_x', 'zz', 'Sample,Jo'), true);
    assert.equal(holdsName('Jo-Jo-Jo-1', 'zz', 'Jo Sample'), false, 'a part under three characters is not looked for');
  });
});

describe('LDAP attribute forms', () => {
  it('formats binary objectSid and objectGUID as ldap3 does', () => {
    const sid = Buffer.alloc(8 + 5 * 4);
    sid[0] = 1;
    sid[1] = 5;
    sid.writeUIntBE(5, 2, 6);
    for (const [i, v] of [21, 1, 2, 3, 500].entries()) sid.writeUInt32LE(v, 8 + i * 4);
    assert.equal(sidToString(sid), 'S-1-5-21-1-2-3-500');
    assert.equal(guidToString(Buffer.from([...Array(16).keys()])), '{03020100-0504-0706-0809-0a0b0c0d0e0f}');
  });
});

for (const dialect of dialects()) {
  describe(`LDAP source (${dialect})`, () => {
    let srv: TestServer;
    let ldap: FakeLdap;
    const since = () => new Date(Date.now() - 5).toISOString();

    before(async () => {
      srv = await startServer(dialect);
      ldap = await new FakeLdap({ bindDn: SERVICE.dn, bindPassword: SERVICE.password }).start();
      ldap.add(dnOf('alice'), person('alice'));
      ldap.add(dnOf('bob'), person('bob'));
      ldap.add(`cn=staff,ou=groups,${BASE}`, {
        objectClass: 'groupOfNames',
        cn: 'staff',
        entryUUID: 'uuid-staff',
        member: [dnOf('alice'), dnOf('bob')],
      });
      ldap.add(`cn=admins,ou=groups,${BASE}`, {
        objectClass: 'groupOfNames',
        cn: 'admins',
        entryUUID: 'uuid-admins',
        member: [dnOf('alice')],
      });
    });
    after(async () => {
      await srv.close();
      await ldap.close();
    });

    const body = async (slug: string, extra: Record<string, unknown> = {}) => ({
      name: `Directory ${slug}`,
      slug,
      server_uri: ldap.url,
      bind_cn: SERVICE.dn,
      bind_password: SERVICE.password,
      base_dn: BASE,
      additional_user_dn: 'ou=users',
      additional_group_dn: 'ou=groups',
      user_object_filter: '(objectClass=person)',
      group_object_filter: '(objectClass=groupOfNames)',
      object_uniqueness_field: 'entryUUID',
      sync_users_password: false,
      user_property_mappings: [
        await managedPk(srv, 'goauthentik.io/sources/ldap/openldap-uid'),
        await managedPk(srv, 'goauthentik.io/sources/ldap/openldap-cn'),
        await managedPk(srv, 'goauthentik.io/sources/ldap/default-mail'),
      ],
      group_property_mappings: [await managedPk(srv, 'goauthentik.io/sources/ldap/openldap-cn')],
      ...extra,
    });

    it("has authentik's managed LDAP mappings from the first start", async () => {
      const r = await call(srv, 'GET', '/propertymappings/source/ldap/?page_size=50');
      assert.equal(r.status, 200);
      const managed = r.body.results.map((m: { managed: string }) => m.managed).sort();
      assert.deepEqual(managed, [
        'goauthentik.io/sources/ldap/default-dn-path',
        'goauthentik.io/sources/ldap/default-mail',
        'goauthentik.io/sources/ldap/default-name',
        'goauthentik.io/sources/ldap/ms-givenName',
        'goauthentik.io/sources/ldap/ms-samaccountname',
        'goauthentik.io/sources/ldap/ms-sn',
        'goauthentik.io/sources/ldap/ms-userprincipalname',
        'goauthentik.io/sources/ldap/openldap-cn',
        'goauthentik.io/sources/ldap/openldap-uid',
      ]);
      assertMatches('PaginatedLDAPSourcePropertyMappingList', r.body);
      assert.equal(r.body.results[0].meta_model_name, 'authentik_sources_ldap.ldapsourcepropertymapping');
    });

    it('refuses a server URI that is not ldap:// or ldaps:// and a second source syncing passwords', async () => {
      const bad = await call(srv, 'POST', '/sources/ldap/', await body('bad', { server_uri: 'http://127.0.0.1/' }));
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body, { server_uri: ['Enter a valid URL.'] });
      const first = await call(srv, 'POST', '/sources/ldap/', await body('pw-one', { sync_users_password: true, enabled: false }));
      assert.equal(first.status, 201, JSON.stringify(first.body));
      const second = await call(srv, 'POST', '/sources/ldap/', await body('pw-two', { sync_users_password: true, enabled: false }));
      assert.equal(second.status, 400);
      assert.deepEqual(second.body, { sync_users_password: ['Only a single LDAP Source with password synchronization is allowed'] });
      assert.equal((await call(srv, 'DELETE', '/sources/ldap/pw-one/')).status, 204);
      const gone = await srv.app.services.db.selectFrom('sources').select('slug').where('slug', 'in', ['bad', 'pw-two']).execute();
      assert.deepEqual(gone, []);
    });

    it('syncs users, groups and memberships on save, and reports connectivity and status', async () => {
      const pythonStarts = sharedRuntimeStatus().starts;
      const t0 = since();
      const r = await call(srv, 'POST', '/sources/ldap/', await body('corp'));
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assertMatches('LDAPSource', r.body);
      assert.equal(r.body.bind_password, undefined);
      assert.equal(r.body.component, 'ak-source-ldap-form');
      const stored = await srv.app.services.db.selectFrom('ldap_sources').select('bind_password').executeTakeFirstOrThrow();
      assert.ok(!stored.bind_password.includes(SERVICE.password), 'the bind password is sealed at rest');

      const row = await synced(srv, 'corp', t0);
      assert.equal(row.last_sync_status, 'done', row.last_sync_messages ?? '');
      // authentik's managed mappings run natively: the sync started no Python runtime
      assert.equal(sharedRuntimeStatus().starts, pythonStarts);
      const status = await call(srv, 'GET', '/sources/ldap/corp/sync/status/');
      assert.equal(status.status, 200);
      assertMatches('SyncStatus', status.body);
      assert.equal(status.body.is_running, false);
      assert.equal(status.body.last_sync_status, 'done');
      assert.ok(status.body.last_successful_sync);

      const users = await call(srv, 'GET', '/core/users/?username=alice');
      assert.equal(users.body.results.length, 1);
      const alice = users.body.results[0];
      assert.equal(alice.name, 'Alice Example');
      assert.equal(alice.email, 'alice@example.org');
      assert.equal(alice.attributes.distinguishedName, dnOf('alice'));
      assert.equal(alice.attributes.ldap_uniq, 'uuid-alice');
      assert.equal(alice.path, 'goauthentik.io/sources/corp', "the source's user path");
      const groups = (await call(srv, 'GET', '/core/groups/?include_users=true&search=staff')).body.results;
      const staff = groups.find((g: { name: string }) => g.name === 'staff');
      assert.ok(staff, JSON.stringify(groups));
      assert.deepEqual(staff.users_obj.map((u: { username: string }) => u.username).sort(), ['alice', 'bob']);
      const admins = (await call(srv, 'GET', '/core/groups/?include_users=true&name=admins')).body.results[0];
      assert.deepEqual(
        admins.users_obj.map((u: { username: string }) => u.username),
        ['alice'],
      );

      const detail = await call(srv, 'GET', '/sources/ldap/corp/');
      assert.equal(detail.body.connectivity[`__all__`].status, 'ok');
      assert.equal(detail.body.connectivity['127.0.0.1'].vendor, 'OpenLDAP');
      const all = await call(srv, 'GET', '/sources/all/?slug=corp');
      assert.equal(all.body.results[0].meta_model_name, 'authentik_sources_ldap.ldapsource');
      const usedBy = await call(srv, 'GET', '/sources/ldap/corp/used_by/');
      assert.ok(usedBy.body.some((u: { model_name: string }) => u.model_name === 'userldapsourceconnection'));

      const debug = await call(srv, 'GET', '/sources/ldap/corp/debug/');
      assert.equal(debug.status, 200);
      assertMatches('LDAPDebug', debug.body);
      assert.deepEqual(debug.body.user.map((u: { dn: string }) => u.dn).sort(), [dnOf('alice'), dnOf('bob')]);
      assert.equal(
        debug.body.user.some((u: { attributes: Record<string, unknown> }) => 'userPassword' in u.attributes),
        false,
      );
    });

    it("logs in with the directory's password through the default authentication flow", async () => {
      assert.equal(await login(srv, 'alice', 'alice directory password'), 'xak-flow-redirect');
      assert.ok(ldap.binds.some((b) => b.dn.toLowerCase() === dnOf('alice') && b.ok));
      // authentik's login event: the method and the source
      const logins = (await call(srv, 'GET', '/events/events/?action=login')).body.results;
      const event = logins.find((e: { user: { username?: string } }) => e.user.username === 'alice');
      assert.equal(event?.context.auth_method, 'ldap', JSON.stringify(event));
      assert.equal(event.context.auth_method_args.source.name, 'Directory corp');
      assert.equal(event.context.auth_method_args.source.model_name, 'ldapsource');
      assert.equal(await login(srv, 'bob', 'not the password'), 'ak-stage-password');
      // the stored password stays unusable (password_login_update_internal_password is off)
      const u = await srv.app.services.db.selectFrom('users').select('password').where('username', '=', 'alice').executeTakeFirstOrThrow();
      assert.match(u.password, /^!/);
    });

    it('keeps the password after an LDAP login when the source says so', async () => {
      const t0 = since();
      assert.equal((await call(srv, 'PATCH', '/sources/ldap/corp/', { password_login_update_internal_password: true })).status, 200);
      await synced(srv, 'corp', t0);
      assert.equal(await login(srv, 'bob', 'bob directory password'), 'xak-flow-redirect');
      const u = await srv.app.services.db.selectFrom('users').select('password').where('username', '=', 'bob').executeTakeFirstOrThrow();
      assert.match(u.password, /^\$argon2id\$/);
    });

    it('writes a password change to the directory first, and refuses it when the directory does', async () => {
      const t0 = since();
      assert.equal((await call(srv, 'PATCH', '/sources/ldap/corp/', { sync_users_password: true })).status, 200);
      await synced(srv, 'corp', t0);
      const alice = (await call(srv, 'GET', '/core/users/?username=alice')).body.results[0];
      const set = await call(srv, 'POST', `/core/users/${alice.pk}/set_password/`, { password: 'a new password 7' });
      assert.equal(set.status, 204, JSON.stringify(set.body));
      assert.deepEqual(ldap.passwordChanges.at(-1), { dn: dnOf('alice'), password: 'a new password 7', via: 'exop' });
      const session = await loginBrowser(srv, 'alice', 'a new password 7');
      assert.equal(session.component, 'xak-flow-redirect');
      // the same through the password change flow's user write stage
      const changed = await changeInFlow(session.b, 'Correct-Horse-Battery-42');
      assert.equal(changed.component, 'xak-flow-redirect', JSON.stringify(changed));
      assert.deepEqual(ldap.passwordChanges.at(-1), { dn: dnOf('alice'), password: 'Correct-Horse-Battery-42', via: 'exop' });

      // the entry is gone from the directory: the change is refused there, so not made here either
      const saved = ldap.entries().get(dnOf('alice'))!;
      ldap.remove(dnOf('alice'));
      const before = await srv.app.services.db.selectFrom('users').select('password').where('id', '=', alice.pk).executeTakeFirstOrThrow();
      const refused = await call(srv, 'POST', `/core/users/${alice.pk}/set_password/`, { password: 'another password 8' });
      assert.equal(refused.status, 400);
      assert.deepEqual(refused.body, { non_field_errors: ['Failed to set password'] });
      const after = await srv.app.services.db.selectFrom('users').select('password').where('id', '=', alice.pk).executeTakeFirstOrThrow();
      assert.equal(after.password, before.password);
      const denied = await changeInFlow(session.b, 'Battery-Staple-Horse-43');
      assert.equal(denied.component, 'ak-stage-access-denied', JSON.stringify(denied));
      assert.equal(denied.error_message, 'Failed to update user. Please try again later.', "authentik's user write message");
      const still = await srv.app.services.db.selectFrom('users').select('password').where('id', '=', alice.pk).executeTakeFirstOrThrow();
      assert.equal(still.password, before.password);
      const events = await call(srv, 'GET', '/events/events/?action=configuration_error');
      assert.ok(
        events.body.results.some((e: { context: { message: string } }) => /Failed to set the password in LDAP/.test(e.context.message)),
      );
      ldap.add(dnOf('alice'), saved);
      const t1 = since();
      assert.equal((await call(srv, 'PATCH', '/sources/ldap/corp/', { sync_users_password: false })).status, 200);
      await synced(srv, 'corp', t1);
    });

    it("a password change through the flow, written to the directory, ends the person's other sessions", async () => {
      const t0 = since();
      assert.equal((await call(srv, 'PATCH', '/sources/ldap/corp/', { sync_users_password: true })).status, 200);
      await synced(srv, 'corp', t0);
      try {
        const alice = (await call(srv, 'GET', '/core/users/?username=alice')).body.results[0].pk as number;
        // (the password the test above left, in Keystage and in the directory)
        const current = 'Correct-Horse-Battery-42';
        const older = await loginBrowser(srv, 'alice', current);
        assert.equal(older.component, 'xak-flow-redirect');
        const mine = await loginBrowser(srv, 'alice', current);
        assert.equal(mine.component, 'xak-flow-redirect');
        assert.equal((await older.b.me()).status, 200);

        const changed = await changeInFlow(mine.b, 'Staple-Battery-Horse-44');
        assert.equal(changed.component, 'xak-flow-redirect', JSON.stringify(changed));
        // the directory holds the new password
        assert.deepEqual(ldap.passwordChanges.at(-1), { dn: dnOf('alice'), password: 'Staple-Battery-Horse-44', via: 'exop' });
        assert.equal(ldap.entries().get(dnOf('alice'))?.userPassword, 'Staple-Battery-Horse-44');
        // the older session is logged out; the one that changed the password goes on
        assert.equal((await older.b.me()).status, 403);
        assert.equal((await mine.b.me()).status, 200);
        const sessions = await srv.app.services.db.selectFrom('sessions').select('session_key').where('user_id', '=', alice).execute();
        assert.deepEqual(
          sessions.map((s) => s.session_key),
          [sessionKeyOf(mine.b.session!)],
        );
        assert.equal(await login(srv, 'alice', 'Staple-Battery-Horse-44'), 'xak-flow-redirect');
      } finally {
        const t1 = since();
        assert.equal((await call(srv, 'PATCH', '/sources/ldap/corp/', { sync_users_password: false })).status, 200);
        await synced(srv, 'corp', t1);
      }
    });

    it('records a failing mapping and syncs the others; removes what the directory no longer has', async () => {
      const bad = await call(srv, 'POST', '/propertymappings/source/ldap/', {
        name: 'refuses carol',
        expression: 'if ldap.get("uid") == "carol":\n    raise ValueError("no carol")\nreturn {}',
      });
      assert.equal(bad.status, 201, JSON.stringify(bad.body));
      ldap.add(dnOf('carol'), person('carol'));
      const mappings = (await body('corp')).user_property_mappings;
      let t0 = since();
      assert.equal((await call(srv, 'PATCH', '/sources/ldap/corp/', { user_property_mappings: [...mappings, bad.body.pk] })).status, 200);
      const row = await synced(srv, 'corp', t0);
      assert.equal(row.last_sync_status, 'warning');
      assert.equal((await call(srv, 'GET', '/core/users/?username=carol')).body.results.length, 0);
      const events = await call(srv, 'GET', '/events/events/?action=configuration_error');
      assert.ok(events.body.results.some((e: { context: { message: string; dn?: string } }) => e.context.dn === dnOf('carol')));

      ldap.remove(dnOf('bob'));
      t0 = since();
      assert.equal(
        (await call(srv, 'PATCH', '/sources/ldap/corp/', { user_property_mappings: mappings, delete_not_found_objects: true })).status,
        200,
      );
      assert.equal((await synced(srv, 'corp', t0)).last_sync_status, 'done');
      assert.equal((await call(srv, 'GET', '/core/users/?username=bob')).body.results.length, 0);
      assert.equal((await call(srv, 'GET', '/core/users/?username=carol')).body.results.length, 1);
      const staff = (await call(srv, 'GET', '/core/groups/?include_users=true&name=staff')).body.results[0];
      assert.deepEqual(
        staff.users_obj.map((u: { username: string }) => u.username),
        ['alice'],
      );

      // carol is in the directory but her mapping fails again: not written, and not deleted as missing either
      t0 = since();
      assert.equal((await call(srv, 'PATCH', '/sources/ldap/corp/', { user_property_mappings: [...mappings, bad.body.pk] })).status, 200);
      assert.equal((await synced(srv, 'corp', t0)).last_sync_status, 'warning');
      assert.equal((await call(srv, 'GET', '/core/users/?username=carol')).body.results.length, 1);
      t0 = since();
      assert.equal((await call(srv, 'PATCH', '/sources/ldap/corp/', { user_property_mappings: mappings })).status, 200);
      await synced(srv, 'corp', t0);
    });

    it('has a schedule of its own (authentik’s ldap_sync): sent, it syncs the source and logs the outcome; a paused one waits', async () => {
      const SYNC_ACTOR = 'authentik.sources.ldap.tasks.ldap_sync';
      const db = srv.app.services.db;
      const src = await db.selectFrom('sources').select('source_uuid').where('slug', '=', 'corp').executeTakeFirstOrThrow();
      const list = await call(srv, 'GET', '/tasks/schedules/?actor_name=authentik.sources.ldap.tasks.ldap_sync');
      assert.equal(list.status, 200);
      assert.equal(list.body.results.length, 1);
      const schedule = list.body.results[0];
      assert.equal(schedule.rel_obj_id, src.source_uuid);
      assert.equal(schedule.rel_obj_app_label, 'authentik_sources_ldap');
      assert.equal(schedule.rel_obj_model, 'ldapsource');
      assert.equal(schedule.uid, 'authentik.sources.ldap.tasks.ldap_sync:corp');
      assert.match(schedule.crontab, /^\d{1,2} \*\/2 \* \* \*$/);
      assert.deepEqual(
        (await call(srv, 'GET', `/tasks/schedules/?rel_obj_id=${src.source_uuid}`)).body.results.map((x: { uid: string }) => x.uid).sort(),
        ['authentik.sources.ldap.tasks.ldap_connectivity_check:corp', 'authentik.sources.ldap.tasks.ldap_sync:corp'],
      );
      // a user added to the directory arrives with the scheduled sync
      ldap.add(dnOf('dave'), person('dave'));
      const t0 = since();
      assert.equal((await call(srv, 'POST', `/tasks/schedules/${schedule.id}/send/`)).status, 204);
      await synced(srv, 'corp', t0);
      let task: Record<string, any> | undefined;
      for (let i = 0; i < 100 && task?.state !== 'done'; i++) {
        task = (await call(srv, 'GET', `/tasks/tasks/?rel_obj_id=${src.source_uuid}&actor_name=${SYNC_ACTOR}`)).body.results[0];
        if (task?.state !== 'done') await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(task?.state, 'done', JSON.stringify(task));
      assert.equal(task.uid, 'authentik.sources.ldap.tasks.ldap_sync:corp');
      const summary = task.logs.find((l: { event: string }) => l.event === 'Synced');
      assert.ok(summary && summary.attributes.users >= 1, JSON.stringify(task.logs));
      assert.equal((await call(srv, 'GET', '/core/users/?username=dave')).body.results.length, 1);
      // paused and due: not run when the scheduler ticks (kicked by another schedule sent)
      assert.equal((await call(srv, 'PATCH', `/tasks/schedules/${schedule.id}/`, { paused: true })).status, 200);
      await db
        .updateTable('task_schedules')
        .set({ next_run: new Date(Date.now() - 60_000).toISOString() })
        .where('id', '=', schedule.id)
        .execute();
      const clean = (await call(srv, 'GET', '/tasks/schedules/?actor_name=authentik.core.tasks.clean_expired_models')).body.results[0];
      assert.equal((await call(srv, 'POST', `/tasks/schedules/${clean.id}/send/`)).status, 204);
      for (let i = 0; i < 100; i++) {
        const t = (await call(srv, 'GET', '/tasks/tasks/?actor_name=authentik.core.tasks.clean_expired_models')).body.results[0];
        if (t?.state === 'done') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      // (the source's hourly connectivity check may come due meanwhile: its tasks are not counted)
      assert.equal(
        (await call(srv, 'GET', `/tasks/tasks/?rel_obj_id=${src.source_uuid}&actor_name=${SYNC_ACTOR}`)).body.pagination.count,
        1,
      );
      assert.equal((await call(srv, 'PATCH', `/tasks/schedules/${schedule.id}/`, { paused: false })).status, 200);

      // the hourly connectivity check (authentik's ldap_connectivity_check): sent, it checks each server and keeps
      // the answer for the API, one log line per server
      const check = (await call(srv, 'GET', '/tasks/schedules/?actor_name=authentik.sources.ldap.tasks.ldap_connectivity_check')).body
        .results[0];
      assert.equal(check.rel_obj_id, src.source_uuid);
      assert.match(check.crontab, /^\d{1,2} \* \* \* \*$/);
      assert.equal(check.description, 'Check connectivity for LDAP source.');
      await db.updateTable('ldap_sources').set({ connectivity: null }).where('source_uuid', '=', src.source_uuid).execute();
      assert.equal((await call(srv, 'POST', `/tasks/schedules/${check.id}/send/`)).status, 204);
      let checked: Record<string, any> | undefined;
      for (let i = 0; i < 100 && checked?.state !== 'done'; i++) {
        checked = (await call(srv, 'GET', '/tasks/tasks/?actor_name=authentik.sources.ldap.tasks.ldap_connectivity_check')).body.results[0];
        if (checked?.state !== 'done') await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(checked?.state, 'done', JSON.stringify(checked));
      assert.equal(checked.aggregated_status, 'info');
      assert.deepEqual(checked.logs.map((l: { event: string; attributes: { server: string } }) => [l.event, l.attributes.server]).sort(), [
        ['Connected', '127.0.0.1'],
        ['Connected', '__all__'],
      ]);
      assert.equal((await call(srv, 'GET', '/sources/ldap/corp/')).body.connectivity.__all__.status, 'ok');

      // another source gets its own schedule; deleted, the schedule goes with it
      const made = await call(srv, 'POST', '/sources/ldap/', {
        name: 'Scheduled',
        slug: 'scheduled',
        server_uri: 'ldap://127.0.0.1:9',
        base_dn: BASE,
        sync_users_password: false,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const scheduleOf = async () =>
        ((await call(srv, 'GET', `/tasks/schedules/?rel_obj_id=${made.body.pk}`)).body.results as { uid: string }[]).sort((a, b) =>
          a.uid.localeCompare(b.uid),
        );
      for (let i = 0; i < 100 && (await scheduleOf()).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(
        (await scheduleOf()).map((x) => x.uid),
        ['authentik.sources.ldap.tasks.ldap_connectivity_check:scheduled', 'authentik.sources.ldap.tasks.ldap_sync:scheduled'],
      );
      assert.equal((await call(srv, 'DELETE', '/sources/ldap/scheduled/')).status, 204);
      for (let i = 0; i < 100 && (await scheduleOf()).length; i++) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(await scheduleOf(), []);
    });

    it('does not start a sync while another node holds the source', async () => {
      const db = srv.app.services.db;
      const held = new Date(Date.now() + 60_000).toISOString();
      const src = await db.selectFrom('sources').select('source_uuid').where('slug', '=', 'corp').executeTakeFirstOrThrow();
      const was = await db
        .selectFrom('ldap_sources')
        .select('last_sync_started')
        .where('source_uuid', '=', src.source_uuid)
        .executeTakeFirstOrThrow();
      await db.updateTable('ldap_sources').set({ sync_claimed_until: held }).where('source_uuid', '=', src.source_uuid).execute();
      assert.equal((await call(srv, 'PATCH', '/sources/ldap/corp/', { name: 'Directory corp (held)' })).status, 200);
      await new Promise((r) => setTimeout(r, 500));
      const now = await db.selectFrom('ldap_sources').selectAll().where('source_uuid', '=', src.source_uuid).executeTakeFirstOrThrow();
      assert.equal(now.last_sync_started, was.last_sync_started);
      assert.ok(now.sync_requested, 'the request waits for the claim to lapse');
      assert.equal((await call(srv, 'GET', '/sources/ldap/corp/sync/status/')).body.is_running, true);
      await db.updateTable('ldap_sources').set({ sync_claimed_until: null }).where('source_uuid', '=', src.source_uuid).execute();
    });

    it('of two nodes asking for a due sync at once, one takes it', async () => {
      const db = srv.app.services.db;
      const src = await db.selectFrom('sources').select('source_uuid').where('slug', '=', 'corp').executeTakeFirstOrThrow();
      // (disabled, so neither node's scheduler takes it meanwhile; a sync under way finishes first)
      assert.equal((await call(srv, 'PATCH', '/sources/ldap/corp/', { enabled: false })).status, 200);
      for (let i = 0; i < 150; i++) {
        const r = await db
          .selectFrom('ldap_sources')
          .select('sync_claimed_until')
          .where('source_uuid', '=', src.source_uuid)
          .executeTakeFirstOrThrow();
        if (!r.sync_claimed_until) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const other = await startServer(
        dialect,
        dialect === 'sqlite' ? { sqlitePath: srv.config.sqlitePath } : { databaseUrl: srv.config.databaseUrl },
      );
      try {
        await db
          .updateTable('ldap_sources')
          .set({ sync_requested: new Date().toISOString(), sync_claimed_until: null })
          .where('source_uuid', '=', src.source_uuid)
          .execute();
        const dbs = [db, other.app.services.db];
        const taken = await Promise.all(Array.from({ length: 8 }, (_, i) => claimSync(dbs[i % 2]!, src.source_uuid)));
        assert.equal(taken.filter(Boolean).length, 1);
        const row = await db.selectFrom('ldap_sources').selectAll().where('source_uuid', '=', src.source_uuid).executeTakeFirstOrThrow();
        assert.equal(row.sync_requested, null);
        assert.ok(row.sync_claimed_until && row.sync_claimed_until > new Date().toISOString());
        // held: a ninth ask does not take it again
        assert.equal(await claimSync(other.app.services.db, src.source_uuid), false);
      } finally {
        await other.close();
        await db.updateTable('ldap_sources').set({ sync_claimed_until: null }).where('source_uuid', '=', src.source_uuid).execute();
      }
    });
  });

  describe(`LDAP source over TLS (${dialect})`, () => {
    let srv: TestServer;
    let tlsLdap: FakeLdap;
    let port = '';
    before(async () => {
      srv = await startServer(dialect);
      const own = (name: string) => fs.readFileSync(path.resolve('test/fixtures/ldap', name), 'utf8');
      tlsLdap = await new FakeLdap({
        bindDn: SERVICE.dn,
        bindPassword: SERVICE.password,
        tls: { cert: own('localhost.pem'), key: own('localhost.key') },
      }).start();
      port = new URL(tlsLdap.url).port;
      tlsLdap.add(dnOf('erin'), person('erin'));
      const ca = await call(srv, 'POST', '/crypto/certificatekeypairs/', { name: 'directory ca', certificate_data: own('ca.pem') });
      assert.equal(ca.status, 201, JSON.stringify(ca.body));
      const other = await call(srv, 'POST', '/crypto/certificatekeypairs/', {
        name: 'another ca',
        certificate_data: fixture('other-ca.pem'),
      });
      assert.equal(other.status, 201, JSON.stringify(other.body));
      const uid = await managedPk(srv, 'goauthentik.io/sources/ldap/openldap-uid');
      const t0 = new Date().toISOString();
      for (const [slug, uri, peer] of [
        ['verified', `ldaps://localhost:${port}`, ca.body.pk],
        ['wrong-ca', `ldaps://localhost:${port}`, other.body.pk],
        ['wrong-name', `ldaps://127.0.0.1:${port}`, ca.body.pk],
        ['unverified', `ldaps://127.0.0.1:${port}`, null],
      ] as const) {
        const r = await call(srv, 'POST', '/sources/ldap/', {
          name: slug,
          slug,
          server_uri: uri,
          peer_certificate: peer,
          bind_cn: SERVICE.dn,
          bind_password: SERVICE.password,
          base_dn: BASE,
          object_uniqueness_field: 'entryUUID',
          sync_groups: false,
          sync_users_password: false,
          user_property_mappings: [uid],
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        await synced(srv, slug, t0);
      }
    });
    after(async () => {
      await srv.close();
      await tlsLdap.close();
    });

    it("checks the directory's certificate against the peer certificate, its name included", async () => {
      const status = async (slug: string) => (await call(srv, 'GET', `/sources/ldap/${slug}/`)).body.connectivity.__all__.status as string;
      assert.equal(await status('verified'), 'ok');
      assert.equal((await call(srv, 'GET', '/sources/ldap/verified/sync/status/')).body.last_sync_status, 'done');
      assert.notEqual(await status('wrong-ca'), 'ok');
      assert.match(await status('wrong-ca'), /certificate/i);
      assert.equal((await call(srv, 'GET', '/sources/ldap/wrong-ca/sync/status/')).body.last_sync_status, 'error');
      assert.match(await status('wrong-name'), /does not match|altnames/i);
      // as authentik: without a peer certificate the connection is encrypted and not verified
      assert.equal(await status('unverified'), 'ok');
      assert.equal((await call(srv, 'GET', '/core/users/?username=erin')).body.results.length, 1);
      // deleting a source's peer certificate disables the source rather than leaving it unverified
      const wrongCa = (await call(srv, 'GET', '/sources/ldap/wrong-ca/')).body;
      const used = await call(srv, 'GET', `/crypto/certificatekeypairs/${wrongCa.peer_certificate}/used_by/`);
      assert.deepEqual(
        used.body.map((u: { model_name: string; name: string }) => [u.model_name, u.name]),
        [['ldapsource', 'wrong-ca']],
      );
      assert.equal((await call(srv, 'DELETE', `/crypto/certificatekeypairs/${wrongCa.peer_certificate}/`)).status, 204);
      const after = (await call(srv, 'GET', '/sources/ldap/wrong-ca/')).body;
      assert.equal(after.peer_certificate, null);
      assert.equal(after.enabled, false);
    });
  });

  describe(`LDAP source against Active Directory (${dialect})`, () => {
    let srv: TestServer;
    let ad: FakeLdap;
    before(async () => {
      srv = await startServer(dialect);
      ad = await new FakeLdap({ bindDn: SERVICE.dn, bindPassword: SERVICE.password, flavour: 'ad' }).start();
      ad.add(`cn=Dana,ou=users,${BASE}`, {
        objectClass: ['user', 'person'],
        sAMAccountName: 'dana',
        name: 'Dana Example',
        mail: 'dana@example.org',
        // S-1-5-21-7 as Active Directory stores it (bytes below 0x80, so the double's text carries them unchanged)
        objectSid: String.fromCharCode(1, 2, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 7, 0, 0, 0),
        distinguishedName: `cn=Dana,ou=users,${BASE}`,
        userAccountControl: '514',
        userPassword: 'dana password',
      });
      // an active account, and the domain's root with its password properties (DOMAIN_PASSWORD_COMPLEX = 1)
      ad.add(`cn=Erin,ou=users,${BASE}`, {
        objectClass: ['user', 'person'],
        sAMAccountName: 'erin',
        name: 'Erin Sample-Jones',
        displayName: 'Erin Sample-Jones',
        mail: 'erin@example.org',
        objectSid: String.fromCharCode(1, 2, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 8, 0, 0, 0),
        distinguishedName: `cn=Erin,ou=users,${BASE}`,
        userAccountControl: '512',
        userPassword: 'Erin directory 1!',
      });
      ad.add(BASE, { objectClass: ['domain'], dc: 'example', pwdProperties: '1' });
    });
    after(async () => {
      await srv.close();
      await ad.close();
    });

    it('maps sAMAccountName, keeps a disabled account inactive, and sets passwords through unicodePwd', async () => {
      const pk = (m: string) => managedPk(srv, `goauthentik.io/sources/ldap/${m}`);
      const t0 = new Date().toISOString();
      const r = await call(srv, 'POST', '/sources/ldap/', {
        name: 'AD',
        slug: 'ad',
        server_uri: ad.url,
        bind_cn: SERVICE.dn,
        bind_password: SERVICE.password,
        base_dn: BASE,
        sync_groups: false,
        user_property_mappings: [await pk('ms-samaccountname'), await pk('default-name'), await pk('default-mail')],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.object_uniqueness_field, 'objectSid');
      assert.equal(r.body.group_object_filter, '(objectClass=group)');
      const row = await synced(srv, 'ad', t0);
      assert.equal(row.last_sync_status, 'done', row.last_sync_messages ?? '');
      const dana = (await call(srv, 'GET', '/core/users/?username=dana')).body.results[0];
      assert.equal(dana.name, 'Dana Example');
      assert.equal(dana.is_active, false, 'userAccountControl 514 is ACCOUNTDISABLE');
      assert.equal(dana.attributes.ldap_uniq, 'S-1-5-21-7');
      const set = await call(srv, 'POST', `/core/users/${dana.pk}/set_password/`, { password: 'Dana new 9!' });
      assert.equal(set.status, 204, JSON.stringify(set.body));
      assert.deepEqual(ad.passwordChanges.at(-1), { dn: `cn=Dana,ou=users,${BASE}`, password: 'Dana new 9!', via: 'unicodePwd' });
      // an inactive user does not log in, even with the directory's password
      assert.equal(await login(srv, 'dana', 'Dana new 9!'), 'ak-stage-password');
    });

    it("asks a password chosen in a prompt stage of the domain's complexity rule, failing closed", async () => {
      const session = await loginBrowser(srv, 'erin', 'Erin directory 1!');
      assert.equal(session.component, 'xak-flow-redirect');
      const refusedWith = async (password: string) => {
        const changes = ad.passwordChanges.length;
        const body = await changeInFlow(session.b, password);
        assert.equal(body.component, 'ak-stage-prompt', JSON.stringify(body));
        assert.equal(ad.passwordChanges.length, changes, 'nothing was written to the directory');
        return body.response_errors;
      };
      const complexity = [{ string: AD_COMPLEXITY_MESSAGE, code: 'invalid' }];
      // two kinds of character of five (lower case, digits); the account name; a part of the display name
      for (const password of ['only lower case 42', 'Big-Erin-Tulip-7', 'tulip Jones 77']) {
        assert.deepEqual(await refusedWith(password), { password: complexity, password_repeat: complexity }, password);
      }
      const taken = await changeInFlow(session.b, 'Tulip-Garden-77');
      assert.equal(taken.component, 'xak-flow-redirect', JSON.stringify(taken));
      assert.deepEqual(ad.passwordChanges.at(-1), { dn: `cn=Erin,ou=users,${BASE}`, password: 'Tulip-Garden-77', via: 'unicodePwd' });

      // a directory that cannot be asked refuses the password
      const ldapSource = (await call(srv, 'GET', '/sources/ldap/ad/')).body;
      assert.equal((await call(srv, 'PATCH', '/sources/ldap/ad/', { server_uri: 'ldap://127.0.0.1:1' })).status, 200);
      assert.deepEqual(await refusedWith('Another-Tulip-88'), {
        password: [{ string: 'The password could not be checked against the directory.', code: 'invalid' }],
        password_repeat: [{ string: 'The password could not be checked against the directory.', code: 'invalid' }],
      });
      assert.equal((await call(srv, 'PATCH', '/sources/ldap/ad/', { server_uri: ldapSource.server_uri })).status, 200);

      // a domain without the rule takes a simple password
      ad.entries().get(BASE)!.pwdProperties = '0';
      const simple = await changeInFlow(session.b, 'only lower case 42');
      assert.equal(simple.component, 'xak-flow-redirect', JSON.stringify(simple));
      assert.equal(ad.passwordChanges.at(-1)?.password, 'only lower case 42');
    });
  });
}

// (last: it starts the Python runtime, which the syncs above must not need)
describe("authentik's managed LDAP mappings, native and in the Python runtime", () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer('sqlite');
  });
  after(async () => srv.close());

  it('give the same properties for the same entries', async () => {
    const source = { source_uuid: 's', slug: 'corp', name: 'Corp', user_path_template: 'goauthentik.io/sources/%(slug)s' };
    const entries = [
      {
        dn: 'CN=Dana,OU=Sales,OU=People,DC=example,DC=org',
        attributes: {
          name: 'Dana',
          mail: ['dana@example.org', 'd@example.org'],
          sAMAccountName: 'dana',
          userPrincipalName: 'dana@example.org',
          givenName: ['Dana'],
          sn: [],
          uid: 'dana',
          cn: 'Dana X',
        },
      },
      { dn: 'uid=erin,dc=example,dc=org', attributes: { UID: ['erin', 'e2'], CN: 'Erin' } },
      { dn: 'ou=x, ou=y,dc=org', attributes: {} },
    ];
    for (const m of MANAGED_LDAP_MAPPINGS) {
      for (const entry of entries) {
        const native = await mapEntry(srv.app.services, source, [{ pm_uuid: 'n', name: m.name, expression: m.expression }], entry, {});
        // (one more newline: the same Python, no longer the managed text, so the runtime runs it)
        const python = await mapEntry(
          srv.app.services,
          source,
          [{ pm_uuid: 'p', name: m.name, expression: `${m.expression}\n` }],
          entry,
          {},
        );
        assert.deepEqual(native, python, `${m.managed} on ${entry.dn}`);
        assert.equal(native.ok, true);
      }
    }
  });
});
