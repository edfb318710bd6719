/**
 * The SCIM provider (authentik's SCIMProvider) against an in-memory SCIM 2.0 service provider on 127.0.0.1, on SQLite
 * and PostgreSQL: the API through the official client (defaults, the token write-only and sealed, the managed mappings,
 * 400s that write nothing), the full sync after a save, every change pushed as it happens whoever makes it (a user
 * created, renamed, deactivated, deleted; a group and its memberships by PATCH, or whole by PUT without PATCH support),
 * 409 answered by linking, group filters and service accounts, dry run and sync/object, Python mappings and their
 * failure, a service provider that cannot be reached, and two nodes sharing the work.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import pg from 'pg';
import { buildSelfSigned } from '../../../src/crypto/x509.js';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { ProvidersApi } from '@goauthentik/api/dist/apis/ProvidersApi.js';
import { PropertymappingsApi } from '@goauthentik/api/dist/apis/PropertymappingsApi.js';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { createUser } from '../../helpers/flows.js';
import { type FakeScim, startFakeScim } from './fake-scim.js';
import { untilSomeoneWaits } from '../../helpers/pg-locks.js';

const TOKEN = 'scim-token';

/** waits (bounded) until `check` holds */
async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** once the service provider has heard nothing for `quietMs` (a push's read-back after its write included) */
async function quiet(scim: { requests: unknown[] }, quietMs = 400, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  let seen = scim.requests.length;
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > end) throw new Error('the service provider kept being called');
    await new Promise((r) => setTimeout(r, 50));
    if (scim.requests.length !== seen) {
      seen = scim.requests.length;
      since = Date.now();
    }
  }
}

const remoteUser = (scim: FakeScim, userName: string) => [...scim.users.values()].find((u) => u.userName === userName);
const remoteGroup = (scim: FakeScim, name: string) => [...scim.groups.values()].find((g) => g.displayName === name);
const memberNames = (scim: FakeScim, g: { members?: { value: string }[] }) =>
  (g.members ?? []).map((m) => scim.users.get(m.value)?.userName).sort();

for (const dialect of dialects()) {
  describe(`SCIM provider (${dialect})`, () => {
    let srv: TestServer;
    let api: ProvidersApi;
    let managed: { user: string; group: string };
    const scims: FakeScim[] = [];
    const fake = async (opts: Parameters<typeof startFakeScim>[0] = {}) => {
      const s = await startFakeScim({ token: TOKEN, ...opts });
      scims.push(s);
      return s;
    };
    const provider = async (scim: FakeScim, extra: Record<string, unknown> = {}) => {
      const r = await call(srv, 'POST', '/providers/scim/', {
        name: `scim-${Math.random().toString(36).slice(2)}`,
        url: scim.url,
        token: TOKEN,
        property_mappings: [managed.user],
        property_mappings_group: [managed.group],
        ...extra,
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body as { pk: number; name: string };
    };
    const status = async (pk: number) => (await call(srv, 'GET', `/providers/scim/${pk}/sync/status/`)).body;
    const synced = (pk: number) => until('the full sync', async () => (await status(pk)).last_sync_status);

    before(async () => {
      srv = await startServer(dialect);
      api = new ProvidersApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      const maps = await new PropertymappingsApi(
        new Configuration({ basePath: srv.api, accessToken: srv.token }),
      ).propertymappingsProviderScimList({});
      const byManaged = Object.fromEntries(maps.results.map((m) => [m.managed, m.pk]));
      managed = { user: byManaged['goauthentik.io/providers/scim/user']!, group: byManaged['goauthentik.io/providers/scim/group']! };
    });
    afterEach(async () => {
      // one provider at a time: each test's providers go with it
      for (const p of (await call(srv, 'GET', '/providers/scim/')).body.results) await call(srv, 'DELETE', `/providers/scim/${p.pk}/`);
      for (const s of scims.splice(0)) await s.close();
    });
    after(async () => srv.close());

    it('the API: authentik defaults through the official client, the token write-only and sealed, refusals writing nothing', async () => {
      assert.ok(managed.user && managed.group, 'the managed mappings exist');
      const scim = await fake();
      const created = await api.providersScimCreate({
        sCIMProviderRequest: { name: 'to-app', url: `${scim.url}/`, token: TOKEN, propertyMappings: [managed.user] },
      });
      assert.equal(created.url, `${scim.url}/`);
      assert.equal(created.verifyCertificates, true);
      assert.equal(created.authMode, 'token');
      assert.equal(created.compatibilityMode, 'default');
      assert.equal(created.serviceProviderConfigCacheTimeout, 'hours=1');
      assert.equal(created.syncPageSize, 100);
      assert.equal(created.syncPageTimeout, 'minutes=30');
      assert.equal(created.dryRun, false);
      assert.deepEqual(created.groupFilters, []);
      assert.equal(created.component, 'ak-provider-scim-form');
      assert.equal(created.metaModelName, 'authentik_providers_scim.scimprovider');
      const raw = (await call(srv, 'GET', `/providers/scim/${created.pk}/`)).body;
      assert.equal(raw.token, undefined, 'the token is never returned');
      assert.equal(raw.authorization_flow, undefined, 'a backchannel provider has no flows');
      assert.equal(raw.assigned_backchannel_application_slug, null);
      const row = await srv.app.store.db
        .selectFrom('provider_scim')
        .select('token')
        .where('provider_id', '=', created.pk)
        .executeTakeFirstOrThrow();
      assert.ok(row.token.startsWith('enc:v1:') && !row.token.includes(TOKEN), 'sealed at rest');
      const types = (await call(srv, 'GET', '/providers/all/types/')).body.map((t: { model_name: string }) => t.model_name);
      assert.ok(types.includes('scimprovider'));
      // an application's backchannel provider
      const app = await call(srv, 'POST', '/core/applications/', { name: 'Chat', slug: 'chat', backchannel_providers: [created.pk] });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const assigned = (await call(srv, 'GET', `/providers/scim/${created.pk}/`)).body;
      assert.equal(assigned.assigned_backchannel_application_slug, 'chat');
      assert.equal(assigned.assigned_backchannel_application_name, 'Chat');
      assert.equal((await call(srv, 'DELETE', '/core/applications/chat/')).status, 204);

      const before = await srv.app.store.db.selectFrom('providers').select('id').execute();
      for (const [body, field] of [
        [{ name: 'x', url: scim.url, auth_mode: 'oauth_interactive' }, 'auth_mode'],
        [{ name: 'x', url: scim.url, auth_mode: 'oauth' }, 'auth_oauth'],
        [{ name: 'x', url: 'not a url' }, 'url'],
        [{ name: 'x', url: scim.url, compatibility_mode: 'nope' }, 'compatibility_mode'],
        [{ name: 'x', url: scim.url, sync_page_size: 0 }, 'sync_page_size'],
        [{ name: 'x', url: scim.url, group_filters: ['00000000-0000-4000-8000-000000000000'] }, 'group_filters'],
        [{ name: 'x' }, 'url'],
      ] as const) {
        const r = await call(srv, 'POST', '/providers/scim/', body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.ok(r.body[field], `${field}: ${JSON.stringify(r.body)}`);
      }
      assert.equal((await srv.app.store.db.selectFrom('providers').select('id').execute()).length, before.length);
    });

    it('a save syncs everything; then each change is pushed as it happens, by PATCH', async () => {
      const scim = await fake();
      const alice = await createUser(srv, 'alice', 'pw-Alice-1234567');
      const g = await call(srv, 'POST', '/core/groups/', { name: 'engineers', users: [alice] });
      assert.equal(g.status, 201);
      const p = await provider(scim);
      assert.equal(await synced(p.pk), 'done');
      const a = remoteUser(scim, 'alice');
      assert.ok(a, 'alice was created');
      assert.deepEqual(a.name, { formatted: 'alice Example', givenName: 'alice', familyName: 'Example' });
      assert.deepEqual(a.emails, [{ value: 'alice@example.com', type: 'other', primary: true }]);
      assert.equal(a.active, true);
      assert.ok(remoteUser(scim, 'akadmin'), 'every user in scope');
      const post = scim.requests.find((r) => r.method === 'POST' && r.path === '/Users');
      assert.equal(post?.headers.authorization, `Bearer ${TOKEN}`);
      assert.equal(post?.headers['content-type'], 'application/scim+json');
      assert.deepEqual(post?.body.schemas, ['urn:ietf:params:scim:schemas:core:2.0:User']);
      assert.equal(typeof post?.body.externalId, 'string');
      const eng = await until('the group', () => remoteGroup(scim, 'engineers'));
      await until('the member', () => memberNames(scim, eng).includes('alice'));
      const links = (await call(srv, 'GET', `/providers/scim_users/?provider__id=${p.pk}`)).body.results;
      const aliceLink = links.find((l: { user: number }) => l.user === alice);
      assert.equal(aliceLink.scim_id, a.id);
      assert.equal(aliceLink.user_obj.username, 'alice');
      const groupLinks = (await call(srv, 'GET', `/providers/scim_groups/?provider__id=${p.pk}&group__name=engineers`)).body.results;
      assert.equal(groupLinks.length, 1);
      assert.equal(groupLinks[0].group_obj.name, 'engineers');
      assert.equal(groupLinks[0].scim_id, eng.id);

      // a user made through the API is pushed at once
      scim.reset();
      const bob = await createUser(srv, 'bob', 'pw-Bob-12345678');
      const b = await until('bob', () => remoteUser(scim, 'bob'));
      // renamed and deactivated: one PATCH replace each, then read back
      assert.equal((await call(srv, 'PATCH', `/core/users/${bob}/`, { name: 'Robert Jones' })).status, 200);
      await until('the rename', () => scim.users.get(b.id)?.displayName === 'Robert Jones');
      const patch = scim.requests.find((r) => r.method === 'PATCH' && r.path === `/Users/${b.id}`);
      assert.equal(patch?.body.Operations[0].op, 'replace');
      assert.deepEqual(patch?.body.schemas, ['urn:ietf:params:scim:api:messages:2.0:PatchOp']);
      assert.equal((await call(srv, 'PATCH', `/core/users/${bob}/`, { is_active: false })).status, 200);
      await until('the deactivation', () => scim.users.get(b.id)?.active === false);
      // a login (last_login) is not a change (counted once the deactivation's push, its read-back included, is over)
      await quiet(scim);
      const before = scim.requests.length;
      await srv.app.store.db.updateTable('users').set({ last_login: new Date().toISOString() }).where('id', '=', bob).execute();
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(scim.requests.length, before, 'nothing sent for a last_login');

      // memberships: PATCH add / remove on the group
      assert.equal((await call(srv, 'POST', `/core/groups/${g.body.pk}/add_user/`, { pk: bob })).status, 204);
      await until('bob joins', () => memberNames(scim, scim.groups.get(eng.id)!).includes('bob'));
      const add = scim.requests.find((r) => r.method === 'PATCH' && r.path === `/Groups/${eng.id}`);
      assert.deepEqual(add?.body.Operations, [{ op: 'add', path: 'members', value: [{ value: b.id }] }]);
      assert.equal((await call(srv, 'POST', `/core/groups/${g.body.pk}/remove_user/`, { pk: alice })).status, 204);
      await until('alice leaves', () => !memberNames(scim, scim.groups.get(eng.id)!).includes('alice'));
      // renamed group: PATCH replace
      assert.equal((await call(srv, 'PATCH', `/core/groups/${g.body.pk}/`, { name: 'platform' })).status, 200);
      await until('the group rename', () => scim.groups.get(eng.id)?.displayName === 'platform');

      // deletions
      assert.equal((await call(srv, 'DELETE', `/core/users/${bob}/`)).status, 204);
      await until('bob deleted', () => !scim.users.has(b.id));
      assert.equal((await call(srv, 'DELETE', `/core/groups/${g.body.pk}/`)).status, 204);
      await until('the group deleted', () => !scim.groups.has(eng.id));
      const left = await srv.app.store.db.selectFrom('scim_provider_users').select('user_id').where('provider_id', '=', p.pk).execute();
      assert.ok(!left.some((l) => l.user_id === null || l.user_id === bob), 'the links went with them');
      await call(srv, 'DELETE', `/core/users/${alice}/`);
    });

    it('a schedule of its own (authentik’s scim_sync): sent, it runs a full sync whose messages are the task’s logs', async () => {
      const scim = await fake();
      const p = await provider(scim);
      assert.equal(await synced(p.pk), 'done');
      const schedule = await until(
        'the provider’s schedule',
        async () =>
          (await call(srv, 'GET', `/tasks/schedules/?rel_obj_id=${p.pk}&actor_name=authentik.providers.scim.tasks.scim_sync`)).body
            .results[0],
      );
      assert.equal(schedule.uid, `authentik.providers.scim.tasks.scim_sync:${p.name}`);
      assert.equal(schedule.rel_obj_app_label, 'authentik_providers_scim');
      assert.equal(schedule.rel_obj_model, 'scimprovider');
      assert.match(schedule.crontab, /^\d{1,2} \*\/4 \* \* \*$/);
      // the scheduled full sync talks to the service provider again and is the provider's last sync
      await quiet(scim);
      const before = scim.requests.length;
      const t0 = new Date().toISOString();
      assert.equal((await call(srv, 'POST', `/tasks/schedules/${schedule.id}/send/`)).status, 204);
      const task = await until('the task', async () => {
        const t = (await call(srv, 'GET', `/tasks/tasks/?rel_obj_id=${p.pk}`)).body.results[0];
        return t?.state === 'done' ? t : undefined;
      });
      assert.equal(task.uid, schedule.uid);
      assert.ok(
        task.logs.some(
          (l: { event: string; attributes: { status?: string } }) => l.event === 'Full sync finished' && l.attributes.status === 'done',
        ),
        JSON.stringify(task.logs),
      );
      assert.ok(scim.requests.length > before, 'the full sync asked the service provider');
      const after = await status(p.pk);
      assert.equal(after.last_sync_status, 'done');
      assert.ok(after.last_successful_sync >= t0, JSON.stringify(after));
      // deleted, its schedule goes (at the scheduler's next tick: a send kicks it)
      assert.equal((await call(srv, 'DELETE', `/providers/scim/${p.pk}/`)).status, 204);
      const clean = (await call(srv, 'GET', '/tasks/schedules/?actor_name=authentik.core.tasks.clean_expired_models')).body.results[0];
      assert.equal((await call(srv, 'POST', `/tasks/schedules/${clean.id}/send/`)).status, 204);
      await until('the schedule gone', async () =>
        (await call(srv, 'GET', `/tasks/schedules/?rel_obj_id=${p.pk}&actor_name=authentik.providers.scim.tasks.scim_sync`)).body.results
          .length === 0
          ? true
          : undefined,
      );
    });

    it('without PATCH support a group is written whole, its members inside (PUT)', async () => {
      const scim = await fake({ patch: false });
      const carol = await createUser(srv, 'carol', 'pw-Carol-1234567');
      const dave = await createUser(srv, 'dave', 'pw-Dave-12345678');
      const g = (await call(srv, 'POST', '/core/groups/', { name: 'ops', users: [carol] })).body;
      const p = await provider(scim);
      assert.equal(await synced(p.pk), 'done');
      const ops = remoteGroup(scim, 'ops')!;
      assert.deepEqual(memberNames(scim, ops), ['carol']);
      const create = scim.requests.find((r) => r.method === 'POST' && r.path === '/Groups');
      assert.equal(create?.body.members.length, 1, 'the members in the POST');
      scim.reset();
      await call(srv, 'POST', `/core/groups/${g.pk}/add_user/`, { pk: dave });
      await until('dave joins', () => memberNames(scim, scim.groups.get(ops.id)!).includes('dave'));
      assert.ok(scim.requests.some((r) => r.method === 'PUT' && r.path === `/Groups/${ops.id}`));
      assert.ok(!scim.requests.some((r) => r.method === 'PATCH'), 'no PATCH sent');
      for (const u of [carol, dave]) await call(srv, 'DELETE', `/core/users/${u}/`);
      await call(srv, 'DELETE', `/core/groups/${g.pk}/`);
    });

    it('a user that exists remotely (409) is linked by userName; a remote object gone (404) is made again', async () => {
      const scim = await fake();
      const erin = await createUser(srv, 'erin', 'pw-Erin-12345678');
      const pre = await fetch(`${scim.url}/Users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'erin' }),
      });
      const existing = (await pre.json()) as { id: string };
      const p = await provider(scim);
      assert.equal(await synced(p.pk), 'done');
      assert.ok(scim.requests.some((r) => r.method === 'GET' && r.path === '/Users' && r.query.filter === 'userName eq "erin"'));
      const link = (await call(srv, 'GET', `/providers/scim_users/?provider__id=${p.pk}&user__id=${erin}`)).body.results[0];
      assert.equal(link.scim_id, existing.id);
      // removed on the other side: the next change makes it again
      scim.users.delete(existing.id);
      await call(srv, 'PATCH', `/core/users/${erin}/`, { name: 'Erin Again' });
      const again = await until('erin made again', () => remoteUser(scim, 'erin'));
      assert.notEqual(again.id, existing.id);
      assert.equal(again.displayName, 'Erin Again');
      await call(srv, 'DELETE', `/core/users/${erin}/`);
    });

    it('group filters and service accounts limit the scope; leaving the scope deletes remotely', async () => {
      const scim = await fake();
      const frank = await createUser(srv, 'frank', 'pw-Frank-1234567');
      const gina = await createUser(srv, 'gina', 'pw-Gina-12345678');
      const svcAcct = await createUser(srv, 'robot', 'pw-Robot-1234567', { type: 'service_account' });
      const g = (await call(srv, 'POST', '/core/groups/', { name: 'synced', users: [frank, svcAcct] })).body;
      const other = (await call(srv, 'POST', '/core/groups/', { name: 'not-synced', users: [gina] })).body;
      const p = await provider(scim, { group_filters: [g.pk], exclude_users_service_account: true });
      assert.equal(await synced(p.pk), 'done');
      assert.deepEqual([...scim.users.values()].map((u) => u.userName).sort(), ['frank']);
      assert.deepEqual(
        [...scim.groups.values()].map((x) => x.displayName),
        ['synced'],
      );
      // gina joins the filter group: she is pushed and added
      await call(srv, 'POST', `/core/groups/${g.pk}/add_user/`, { pk: gina });
      const gRemote = remoteGroup(scim, 'synced')!;
      await until('gina in', () => memberNames(scim, scim.groups.get(gRemote.id)!).includes('gina'));
      // frank leaves it: his remote user goes
      await call(srv, 'POST', `/core/groups/${g.pk}/remove_user/`, { pk: frank });
      await until('frank out', () => !remoteUser(scim, 'frank'));
      for (const u of [frank, gina, svcAcct]) await call(srv, 'DELETE', `/core/users/${u}/`);
      for (const x of [g, other]) await call(srv, 'DELETE', `/core/groups/${x.pk}/`);
    });

    it("an application's policies narrow the users pushed (authentik's application policy scenarios)", async () => {
      const u = await Promise.all([1, 2, 3, 4].map((i) => createUser(srv, `pol-${i}`, 'pw-Policy-1234567')));
      const mk = async (name: string, users: number[]) => (await call(srv, 'POST', '/core/groups/', { name, users })).body.pk as string;
      const g1 = await mk('pol-group-1', [u[0]!, u[3]!]);
      const g2 = await mk('pol-group-2', [u[1]!, u[3]!]);
      const app = (await call(srv, 'POST', '/core/applications/', { name: 'Pol', slug: 'pol' })).body;
      const bind = async (b: Record<string, unknown>) => {
        const r = await call(srv, 'POST', '/policies/bindings/', { target: app.pk, order: 0, ...b });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      };
      const pushed = async (): Promise<string[]> => {
        const scim = await fake();
        // made in dry run, attached, then let go: its sync is the one that sees the application
        const p = await provider(scim, { exclude_users_service_account: true, dry_run: true });
        assert.equal((await call(srv, 'PATCH', '/core/applications/pol/', { backchannel_providers: [p.pk] })).status, 200);
        assert.equal((await call(srv, 'PATCH', `/providers/scim/${p.pk}/`, { dry_run: false })).status, 200);
        await until('the sync after the save', async () => {
          const st = await srv.app.store.db.selectFrom('scim_sync_state').selectAll().where('provider_id', '=', p.pk).executeTakeFirst();
          return st && st.sync_requested === null && !st.full_sync_running && st.last_sync_status ? st : undefined;
        });
        const names = [...scim.users.values()].map((x) => x.userName as string).filter((n) => n.startsWith('pol-'));
        await call(srv, 'DELETE', `/providers/scim/${p.pk}/`);
        return names.sort();
      };
      const reset = async () => {
        for (const b of (await call(srv, 'GET', `/policies/bindings/?target=${app.pk}`)).body.results)
          await call(srv, 'DELETE', `/policies/bindings/${b.pk}/`);
        await call(srv, 'PATCH', '/core/applications/pol/', { policy_engine_mode: 'any' });
      };
      const all = ['pol-1', 'pol-2', 'pol-3', 'pol-4'];
      assert.deepEqual(await pushed(), all, 'no bindings: everyone');
      await bind({ group: g1 });
      assert.deepEqual(await pushed(), ['pol-1', 'pol-4'], 'a group binding');
      await bind({ group: g2, order: 1 });
      assert.deepEqual(await pushed(), ['pol-1', 'pol-2', 'pol-4'], 'two group bindings (any)');
      await call(srv, 'PATCH', '/core/applications/pol/', { policy_engine_mode: 'all' });
      assert.deepEqual(await pushed(), ['pol-4'], 'two group bindings (all)');
      await reset();
      await bind({ user: u[2] });
      assert.deepEqual(await pushed(), ['pol-3'], 'a user binding');
      await reset();
      await bind({ group: g1, negate: true });
      assert.deepEqual(await pushed(), ['pol-2', 'pol-3'], 'a negated group binding');
      await reset();
      assert.equal((await call(srv, 'PATCH', `/core/groups/${g2}/`, { parents: [g1] })).status, 200);
      await bind({ group: g1 });
      assert.deepEqual(await pushed(), ['pol-1', 'pol-2', 'pol-4'], "a parent group's binding takes its descendants' members");
      await reset();
      await bind({ group: g1, enabled: false });
      assert.deepEqual(await pushed(), all, 'a disabled binding is no binding');
      await reset();
      const dummy = await call(srv, 'POST', '/policies/dummy/', { name: 'pol-pass', result: true, wait_min: 0, wait_max: 0 });
      await bind({ policy: dummy.body.pk });
      assert.deepEqual(await pushed(), all, 'a policy passing for everyone');
      await reset();
      assert.equal((await call(srv, 'PATCH', '/admin/settings/', { flags: { core_default_app_access: false } })).status, 200);
      try {
        assert.deepEqual(await pushed(), [], 'no bindings and no access without bindings: nobody');
      } finally {
        await call(srv, 'PATCH', '/admin/settings/', { flags: { core_default_app_access: true } });
      }
      await call(srv, 'DELETE', '/core/applications/pol/');
      for (const id of u) await call(srv, 'DELETE', `/core/users/${id}/`);
      for (const g of [g1, g2]) await call(srv, 'DELETE', `/core/groups/${g}/`);
    });

    it('verify_certificates: a self-signed certificate refused, or accepted when told; discovery links by name; one user a page', async () => {
      const pair = await buildSelfSigned({ commonName: '127.0.0.1', subjectAltNames: ['127.0.0.1'], alg: 'ecdsa' });
      const scim = await fake({ tls: { key: pair.privateKey, cert: pair.certificate } });
      const lee = await createUser(srv, 'lee', 'pw-Lee-123456789');
      const mia = await createUser(srv, 'mia', 'pw-Mia-123456789');
      const strict = await provider(scim);
      assert.equal(await synced(strict.pk), 'error');
      assert.equal(scim.requests.length, 0, 'nothing reached the service provider');
      const state = await srv.app.store.db
        .selectFrom('scim_sync_state')
        .selectAll()
        .where('provider_id', '=', strict.pk)
        .executeTakeFirstOrThrow();
      assert.match(String(state.last_sync_messages), /certificate/i);
      await call(srv, 'DELETE', `/providers/scim/${strict.pk}/`);
      // lee exists remotely already: discovery links him (no POST for him), mia is created; a page holds one user
      const pre = await fetch(`${scim.url}/Users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify({ userName: 'lee' }),
        // (the test's own request to the self-signed fake)
        dispatcher: new Agent({ connect: { rejectUnauthorized: false } }),
      } as RequestInit);
      const leeRemote = (await pre.json()) as { id: string };
      scim.reset();
      const lax = await provider(scim, { verify_certificates: false, discovery_enabled: true, sync_page_size: 1 });
      assert.equal(await synced(lax.pk), 'done');
      assert.ok(!scim.requests.some((r) => r.method === 'POST' && r.path === '/Users' && r.body?.userName === 'lee'));
      assert.ok(scim.requests.some((r) => r.method === 'POST' && r.path === '/Users' && r.body?.userName === 'mia'));
      const link = (await call(srv, 'GET', `/providers/scim_users/?provider__id=${lax.pk}&user__id=${lee}`)).body.results[0];
      assert.equal(link.scim_id, leeRemote.id);
      for (const u of [lee, mia]) await call(srv, 'DELETE', `/core/users/${u}/`);
    });

    it('compatibility modes: AWS writes users whole (PUT) though PATCH is offered, Slack filters, vCenter creates groups with members', async () => {
      // AWS and Slack: a service provider offering PATCH but no filtering
      const aws = await fake({ filter: true });
      const nia = await createUser(srv, 'nia', 'pw-Nia-123456789');
      const p = await provider(aws, { compatibility_mode: 'aws' });
      assert.equal(await synced(p.pk), 'done');
      aws.reset();
      await call(srv, 'PATCH', `/core/users/${nia}/`, { name: 'Nia Aws' });
      await until('the update', () => remoteUser(aws, 'nia')?.displayName === 'Nia Aws');
      assert.ok(aws.requests.some((r) => r.method === 'PUT' && r.path.startsWith('/Users/')));
      assert.ok(!aws.requests.some((r) => r.method === 'PATCH' && r.path.startsWith('/Users/')));
      await call(srv, 'DELETE', `/providers/scim/${p.pk}/`);

      const slack = await fake({ filter: false });
      const pre = await fetch(`${slack.url}/Users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify({ userName: 'nia' }),
      });
      assert.equal(pre.status, 201);
      const s1 = await provider(slack, { compatibility_mode: 'slack' });
      // Slack's mode looks a 409 up by filter although the configuration offers none (this fake then refuses it: the
      // user is a warning of the sync; without the mode there would be no lookup at all)
      assert.equal(await synced(s1.pk), 'warning');
      assert.ok(slack.requests.some((r) => r.method === 'GET' && r.query.filter === 'userName eq "nia"'));
      await call(srv, 'DELETE', `/providers/scim/${s1.pk}/`);

      const vc = await fake();
      const g = (await call(srv, 'POST', '/core/groups/', { name: 'vc-group', users: [nia] })).body;
      const v = await provider(vc, { compatibility_mode: 'vcenter' });
      assert.equal(await synced(v.pk), 'done');
      const create = vc.requests.find((r) => r.method === 'POST' && r.path === '/Groups' && r.body.displayName === 'vc-group');
      assert.equal(create?.body.members?.length, 1, 'the members in the POST');
      const groupId = remoteGroup(vc, 'vc-group')!.id;
      assert.ok(!vc.requests.some((r) => r.method === 'PATCH' && r.path === `/Groups/${groupId}`), 'no PATCH after the create');
      await call(srv, 'DELETE', `/core/groups/${g.pk}/`);
      await call(srv, 'DELETE', `/core/users/${nia}/`);
    });

    it('dry run sends nothing but reads; sync/object overrides it and reports', async () => {
      const scim = await fake();
      const hank = await createUser(srv, 'hank', 'pw-Hank-12345678');
      const p = await provider(scim, { dry_run: true });
      assert.equal(await synced(p.pk), 'done');
      assert.ok(!scim.requests.some((r) => r.method !== 'GET'), 'only reads in dry run');
      assert.equal(scim.users.size, 0);
      const dry = await call(srv, 'POST', `/providers/scim/${p.pk}/sync/object/`, {
        sync_object_model: 'authentik.core.models.User',
        sync_object_id: String(hank),
      });
      assert.equal(dry.status, 200);
      assert.ok(
        dry.body.messages.some((m: { event: string }) => m.event.includes('dry run')),
        JSON.stringify(dry.body),
      );
      assert.equal(scim.users.size, 0);
      const real = await call(srv, 'POST', `/providers/scim/${p.pk}/sync/object/`, {
        sync_object_model: 'authentik.core.models.User',
        sync_object_id: String(hank),
        override_dry_run: true,
      });
      assert.equal(real.status, 200);
      assert.ok(remoteUser(scim, 'hank'));
      assert.ok(real.body.messages.some((m: { event: string }) => m.event === 'created user'));
      for (const [body, field] of [
        [{ sync_object_model: 'authentik.core.models.User', sync_object_id: '999999' }, 'sync_object_id'],
        [{ sync_object_model: 'nope', sync_object_id: '1' }, 'sync_object_model'],
        [{ sync_object_model: 'authentik.core.models.Group' }, 'sync_object_id'],
      ] as const) {
        const r = await call(srv, 'POST', `/providers/scim/${p.pk}/sync/object/`, body);
        assert.equal(r.status, 400);
        assert.ok(r.body[field], JSON.stringify(r.body));
      }
      await call(srv, 'DELETE', `/core/users/${hank}/`);
    });

    it('sync/object twice at once for a new user and a new group: one remote object each, one link, no error', async () => {
      const scim = await fake();
      const ivy = await createUser(srv, 'ivy-twice', 'pw-Ivy-12345678');
      const group = await call(srv, 'POST', '/core/groups/', { name: 'synced-twice' });
      // (dry run: the background passes send nothing, so only the two requests below write to the service provider)
      const p = await provider(scim, { dry_run: true });
      assert.equal(await synced(p.pk), 'done');
      for (const [model, id] of [
        ['authentik.core.models.User', String(ivy)],
        ['authentik.core.models.Group', group.body.pk as string],
      ] as const) {
        const body = { sync_object_model: model, sync_object_id: id, override_dry_run: true };
        const answers = await Promise.all([1, 2, 3].map(() => call(srv, 'POST', `/providers/scim/${p.pk}/sync/object/`, body)));
        for (const a of answers) {
          assert.equal(a.status, 200);
          assert.deepEqual(
            a.body.messages.filter((m: { log_level: string }) => m.log_level === 'error'),
            [],
          );
        }
      }
      assert.equal([...scim.users.values()].filter((u) => u.userName === 'ivy-twice').length, 1);
      assert.equal([...scim.groups.values()].filter((g) => g.displayName === 'synced-twice').length, 1);
      const links = async (table: 'scim_provider_users' | 'scim_provider_groups') =>
        (await srv.app.store.db.selectFrom(table).select('scim_id').where('provider_id', '=', p.pk).execute()).map((r) => r.scim_id);
      assert.deepEqual(await links('scim_provider_users'), [remoteUser(scim, 'ivy-twice')!.id]);
      assert.deepEqual(await links('scim_provider_groups'), [remoteGroup(scim, 'synced-twice')!.id]);
      await call(srv, 'DELETE', `/core/groups/${group.body.pk}/`);
      await call(srv, 'DELETE', `/core/users/${ivy}/`);
    });

    it('Python mappings merge into the resource; a failing one stops that object with a configuration_error event', async () => {
      const scim = await fake();
      const ivy = await createUser(srv, 'ivy', 'pw-Ivy-123456789', { attributes: { title: 'Engineer' } });
      const extra = await call(srv, 'POST', '/propertymappings/provider/scim/', {
        name: 'scim title',
        expression: 'return {"title": request.user.attributes.get("title"), "name": {"honorificPrefix": "Dr"}, "nickName": None}',
      });
      assert.equal(extra.status, 201, JSON.stringify(extra.body));
      const p = await provider(scim, { property_mappings: [managed.user, extra.body.pk] });
      assert.equal(await synced(p.pk), 'done');
      const ivyRemote = remoteUser(scim, 'ivy')!;
      assert.equal(ivyRemote.title, 'Engineer');
      assert.equal(ivyRemote.name.honorificPrefix, 'Dr');
      assert.equal(ivyRemote.name.givenName, 'ivy', 'merged with the managed mapping');
      assert.ok(!('nickName' in ivyRemote), 'None left out');
      const bad = await call(srv, 'POST', '/propertymappings/provider/scim/', { name: 'scim broken', expression: 'return 1 / 0' });
      const p2 = await provider(await fake(), { property_mappings: [managed.user, bad.body.pk] });
      assert.equal(await synced(p2.pk), 'warning');
      const ev = await until('the event', async () => {
        const r = await call(srv, 'GET', '/events/events/?action=configuration_error');
        return r.body.results.find((e: { context: { mapping?: { name: string } } }) => e.context.mapping?.name === 'scim broken');
      });
      assert.match(ev.context.error, /ZeroDivisionError/);
      await call(srv, 'DELETE', `/core/users/${ivy}/`);
    });

    it('two nodes on one database: every change pushed once; a write from outside Keystage is pushed too', async () => {
      const scim = await fake();
      const other = await startServer(
        dialect,
        dialect === 'sqlite' ? { sqlitePath: srv.config.sqlitePath } : { databaseUrl: srv.config.databaseUrl },
      );
      try {
        const p = await provider(scim);
        assert.equal(await synced(p.pk), 'done');
        scim.reset();
        // twenty users made at once, half through each node
        const names = Array.from({ length: 20 }, (_, i) => `node-user-${i}`);
        const ids = await Promise.all(
          names.map(async (n, i) => {
            const r = await call(i % 2 ? other : srv, 'POST', '/core/users/', { username: n, name: n });
            assert.equal(r.status, 201);
            return r.body.pk as number;
          }),
        );
        await until('all pushed', () => names.every((n) => remoteUser(scim, n)));
        for (const n of names) {
          const posts = scim.requests.filter((r) => r.method === 'POST' && r.path === '/Users' && r.body.userName === n);
          assert.equal(posts.length, 1, `${n} created once`);
        }
        // a row written by hand (a script, psql): the trigger queues it all the same
        await srv.app.store.db.updateTable('users').set({ email: 'by-hand@example.com' }).where('id', '=', ids[0]!).execute();
        await until('the hand-made change', () => remoteUser(scim, names[0]!)?.emails?.[0]?.value === 'by-hand@example.com');
        for (const id of ids) await call(srv, 'DELETE', `/core/users/${id}/`);
        await until('all deleted', () => names.every((n) => !remoteUser(scim, n)));
        const deletes = scim.requests.filter((r) => r.method === 'DELETE');
        assert.equal(deletes.length, names.length, 'each deleted once');
      } finally {
        await other.close();
      }
    });

    it("the oauth mode: a token from an OAuth source's token URL with the provider's parameters, kept while it holds", async () => {
      const grants: { auth?: string; body: URLSearchParams }[] = [];
      const tokenServer = http.createServer((req, res) => {
        let text = '';
        req.on('data', (c) => {
          text += c;
        });
        req.on('end', () => {
          grants.push({ auth: req.headers.authorization, body: new URLSearchParams(text) });
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ access_token: 'oauth-scim-token', token_type: 'Bearer', expires_in: 3600 }));
        });
      });
      await new Promise<void>((r) => tokenServer.listen(0, '127.0.0.1', r));
      const tokenUrl = `http://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/token`;
      try {
        const source = await call(srv, 'POST', '/sources/oauth/', {
          name: 'SCIM auth',
          slug: 'scim-auth',
          provider_type: 'openidconnect',
          consumer_key: 'scim-client',
          consumer_secret: 'scim-secret',
          authorization_url: 'http://127.0.0.1:9/authorize',
          access_token_url: tokenUrl,
          profile_url: 'http://127.0.0.1:9/userinfo',
        });
        assert.equal(source.status, 201, JSON.stringify(source.body));
        const refused = await call(srv, 'POST', '/providers/scim/', {
          name: 'no-source',
          url: 'http://127.0.0.1:9/scim',
          auth_mode: 'oauth',
        });
        assert.equal(refused.status, 400);
        assert.ok(refused.body.auth_oauth, JSON.stringify(refused.body));
        const interactive = await call(srv, 'POST', '/providers/scim/', {
          name: 'interactive',
          url: 'http://127.0.0.1:9/scim',
          auth_mode: 'oauth_interactive',
          auth_oauth: source.body.pk,
        });
        assert.equal(interactive.status, 400);
        assert.ok(interactive.body.auth_mode);

        const scim = await fake({ token: 'oauth-scim-token' });
        const kim = await createUser(srv, 'kim', 'pw-Kim-123456789');
        const p = await provider(scim, {
          token: '',
          auth_mode: 'oauth',
          auth_oauth: source.body.pk,
          auth_oauth_params: { grant_type: 'client_credentials', scope: 'scim' },
        });
        assert.equal(await synced(p.pk), 'done');
        assert.ok(remoteUser(scim, 'kim'), 'pushed with the OAuth token');
        assert.ok(scim.requests.every((r) => r.headers.authorization === 'Bearer oauth-scim-token'));
        assert.equal(grants.length, 1, 'one token for the whole sync');
        assert.equal(grants[0]!.body.get('grant_type'), 'client_credentials');
        assert.equal(grants[0]!.body.get('scope'), 'scim');
        assert.equal(grants[0]!.auth, `Basic ${Buffer.from('scim-client:scim-secret').toString('base64')}`);
        // kept while it holds: a change later uses it again
        await call(srv, 'PATCH', `/core/users/${kim}/`, { name: 'Kim Later' });
        await until('the change', () => remoteUser(scim, 'kim')?.displayName === 'Kim Later');
        assert.equal(grants.length, 1);
        const shown = (await call(srv, 'GET', `/providers/scim/${p.pk}/`)).body;
        assert.ok(Date.parse(shown.auth_oauth_token_expires) > Date.now() + 3_000_000, JSON.stringify(shown));
        assert.ok(Date.parse(shown.auth_oauth_token_last_updated) <= Date.now());
        await call(srv, 'DELETE', `/core/users/${kim}/`);
        await call(srv, 'DELETE', '/sources/oauth/scim-auth/');
      } finally {
        await new Promise((r) => tokenServer.close(r));
      }
    });

    it('an unreachable service provider: the changes wait and go once it answers', async () => {
      const scim = await fake();
      const p = await provider(scim);
      assert.equal(await synced(p.pk), 'done');
      scim.failNext('POST', '/Users', 503, 1);
      const jack = await createUser(srv, 'jack', 'pw-Jack-12345678');
      await until('the 503', () => scim.requests.some((r) => r.method === 'POST' && r.path === '/Users'));
      assert.ok(!remoteUser(scim, 'jack'));
      const queued = await srv.app.store.db.selectFrom('scim_changes').select('ref').where('provider_id', '=', p.pk).execute();
      assert.ok(
        queued.some((q) => q.ref === String(jack)),
        'queued again',
      );
      // the pause after a failure is a minute: once the pass has ended, the test lets the claim lapse now
      await until('the pause', async () => {
        const st = await srv.app.store.db
          .selectFrom('scim_sync_state')
          .select('claimed_until')
          .where('provider_id', '=', p.pk)
          .executeTakeFirst();
        // (the pause, not a pass's claim: a pass holds it five minutes)
        return (
          st?.claimed_until &&
          st.claimed_until > new Date(Date.now() + 30_000).toISOString() &&
          st.claimed_until < new Date(Date.now() + 90_000).toISOString()
        );
      });
      await srv.app.store.db.updateTable('scim_sync_state').set({ claimed_until: null }).where('provider_id', '=', p.pk).execute();
      await until('jack pushed', () => remoteUser(scim, 'jack'));
      await call(srv, 'DELETE', `/core/users/${jack}/`);
    });

    it('a membership added while a provider is being deleted is added (the change is not queued for the deleted provider)', async (t) => {
      if (dialect !== 'postgres')
        return t.skip('PostgreSQL only: the deletion holds the provider row while the write runs (SQLite writers take turns)');
      const scim = await fake();
      const p = await provider(scim);
      assert.equal(await synced(p.pk), 'done');
      const lee = await createUser(srv, 'lee-during-delete', 'pw-Lee-12345678');
      const group = await call(srv, 'POST', '/core/groups/', { name: 'joined-during-delete' });
      assert.equal(group.status, 201);
      const deletion = new pg.Client({ connectionString: srv.config.databaseUrl });
      await deletion.connect();
      try {
        await deletion.query('begin');
        await deletion.query('delete from providers where id = $1', [p.pk]);
        // add_user takes no admin-write lock: its trigger reaches the provider being deleted and waits for it
        const added = call(srv, 'POST', `/core/groups/${group.body.pk}/add_user/`, { pk: lee });
        assert.ok(await untilSomeoneWaits(deletion), 'the write waits for the deletion');
        await deletion.query('commit');
        const r = await added;
        assert.equal(r.status, 204, JSON.stringify(r.body));
      } finally {
        await deletion.end();
      }
      assert.deepEqual((await call(srv, 'GET', `/core/groups/${group.body.pk}/`)).body.users, [lee]);
      assert.deepEqual(await srv.app.store.db.selectFrom('scim_changes').select('id').where('provider_id', '=', p.pk).execute(), []);
      await call(srv, 'DELETE', `/core/groups/${group.body.pk}/`);
      await call(srv, 'DELETE', `/core/users/${lee}/`);
    });
  });
}
