/**
 * `/admin/settings/` (authentik's system settings) through the official client, on SQLite and PostgreSQL: the row a
 * first start seeds, who may read and change it, authentik's validation (nothing written on a 400), and each setting
 * taking effect — impersonation, pagination, token key length and lifetime, footer links and flags in
 * `/core/brands/current/` and on the flow page, application access without bindings, GDPR deletion of a deleted
 * user's events (also by a holder of `delete_user`, not a superuser), reputation limits, event retention and avatars.
 */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { AdminApi, Configuration } from '@goauthentik/api';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { createUser, loggedIn } from '../helpers/flows.js';
import { tokenFor } from '../groups/setup.js';

const callAs = async (srv: TestServer, token: string, method: string, path: string, body?: unknown) =>
  call(srv, method, path, body, { authorization: `Bearer ${token}` });

for (const dialect of dialects()) {
  describe(`system settings (${dialect})`, () => {
    let srv: TestServer;
    let admin: AdminApi;
    let seeded: Record<string, unknown>;
    const patch = async (body: Record<string, unknown>) => {
      const r = await call(srv, 'PATCH', '/admin/settings/', body);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body;
    };

    before(async () => {
      srv = await startServer(dialect, { reputation: { lowerLimit: -4, upperLimit: 3, expirySeconds: 86400 } });
      admin = new AdminApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      seeded = (await call(srv, 'GET', '/admin/settings/')).body;
    });
    // every test starts from the seeded settings
    afterEach(async () => {
      const { base_url: _b, ...rest } = seeded;
      await call(srv, 'PUT', '/admin/settings/', rest);
    });
    after(async () => srv.close());

    it('the seeded row: authentik defaults and the configuration’s values (official client, wire schema)', async () => {
      const raw = await admin.adminSettingsRetrieveRaw();
      const s = await raw.raw.json();
      assertMatches('Settings', s);
      assert.equal(s.reputation_lower_limit, -4, 'from the configuration');
      assert.equal(s.reputation_upper_limit, 3);
      assert.equal(s.event_retention, 'days=365');
      assert.equal(s.default_token_duration, 'days=1');
      assert.equal(s.default_token_length, 60);
      assert.equal(s.pagination_default_page_size, 20);
      assert.equal(s.pagination_max_page_size, 100);
      assert.equal(s.avatars, 'initials');
      assert.equal(s.base_url, '');
      assert.deepEqual(s.footer_links, []);
      assert.deepEqual(s.flags, {
        core_default_app_access: true,
        enterprise_audit_include_expanded_diff: false,
        flows_continuous_login: false,
        flows_refresh_others: false,
      });
      const changed = await admin.adminSettingsPartialUpdate({ patchedSettingsRequest: { gdprCompliance: false } });
      assert.equal(changed.gdprCompliance, false);
      const events = await srv.app.store.db.selectFrom('events').select('context').where('action', '=', 'model_updated').execute();
      assert.ok(events.some((e) => JSON.parse(e.context).model?.app === 'authentik_tenants'));
    });

    it('permissions: view_system_settings reads, edit_system_settings writes', async () => {
      const pk = await createUser(srv, 'settings-reader', 'settings-reader-pass');
      const token = await tokenFor(srv, pk, 'settings-reader-key-0123456789abcdefghijk');
      assert.equal((await callAs(srv, token, 'GET', '/admin/settings/')).status, 403);
      const role = (await call(srv, 'POST', '/rbac/roles/', { name: 'settings-readers' })).body.pk;
      assert.equal((await call(srv, 'POST', `/rbac/roles/${role}/add_user/`, { pk })).status, 204);
      const assign = (perm: string) =>
        call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${role}/assign/`, { permissions: [`authentik_rbac.${perm}`] });
      assert.equal((await assign('view_system_settings')).status, 200);
      assert.equal((await callAs(srv, token, 'GET', '/admin/settings/')).status, 200);
      assert.equal((await callAs(srv, token, 'PATCH', '/admin/settings/', { impersonation: false })).status, 403);
      assert.equal((await assign('edit_system_settings')).status, 200);
      assert.equal((await callAs(srv, token, 'PATCH', '/admin/settings/', { impersonation: false })).status, 200);
      const me = await callAs(srv, token, 'GET', '/core/users/me/');
      assert.deepEqual([...me.body.user.system_permissions].sort(), ['edit_system_settings', 'view_system_settings']);
    });

    it('bad input: field errors in authentik’s shape, nothing written', async () => {
      const before = (await call(srv, 'GET', '/admin/settings/')).body;
      const bad: [Record<string, unknown>, string][] = [
        [{ event_retention: 'forever' }, 'event_retention'],
        [{ default_token_duration: 'soon' }, 'default_token_duration'],
        [{ reputation_lower_limit: 1 }, 'reputation_lower_limit'],
        [{ reputation_upper_limit: -1 }, 'reputation_upper_limit'],
        [{ default_token_length: 0 }, 'default_token_length'],
        [{ footer_links: [{ name: 'x', href: 'javascript:alert(1)' }] }, 'footer_links'],
        [{ footer_links: 'nope' }, 'footer_links'],
        [{ avatars: 'bogus' }, 'avatars'],
        [{ base_url: 'https://elsewhere.example.com' }, 'base_url'],
        [{ flags: { core_default_app_access: 123 } }, 'flags'],
      ];
      for (const [body, field] of bad) {
        const r = await call(srv, 'PATCH', '/admin/settings/', body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.ok(Array.isArray(r.body[field]), JSON.stringify(r.body));
      }
      const flag = await call(srv, 'PATCH', '/admin/settings/', { flags: { core_default_app_access: 123 } });
      assert.deepEqual(flag.body, { flags: ['Value for flag core_default_app_access needs to be of type bool.'] });
      const put = await call(srv, 'PUT', '/admin/settings/', { impersonation: false });
      assert.deepEqual(put.body, { flags: ['This field is required.'] });
      assert.deepEqual((await call(srv, 'GET', '/admin/settings/')).body, before);
    });

    it('changes sent at once all hold (compare-and-set on the row, real parallel requests)', async () => {
      const changes = [
        { impersonation: false },
        { gdpr_compliance: false },
        { default_token_length: 50 },
        { pagination_default_page_size: 7 },
        { avatars: 'none' },
        { event_retention: 'days=3' },
        { reputation_upper_limit: 2 },
        { footer_links: [{ name: 'Help', href: '/help' }] },
      ];
      const answers = await Promise.all(changes.map((c) => call(srv, 'PATCH', '/admin/settings/', c)));
      for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.body));
      const now = (await call(srv, 'GET', '/admin/settings/')).body;
      for (const c of changes) for (const [k, v] of Object.entries(c)) assert.deepEqual(now[k], v, k);
    });

    it('impersonation off: 401 as authentik', async () => {
      const pk = await createUser(srv, 'imp-target', 'imp-target-pass');
      await patch({ impersonation: false });
      assert.equal((await call(srv, 'POST', `/core/users/${pk}/impersonate/`, { reason: 'support' })).status, 401);
    });

    it('pagination: the default page size and the maximum', async () => {
      for (let i = 0; i < 8; i++) await createUser(srv, `page-user-${i}`, 'page-user-pass');
      await patch({ pagination_default_page_size: 3, pagination_max_page_size: 5 });
      assert.equal((await call(srv, 'GET', '/core/users/')).body.results.length, 3);
      const big = await call(srv, 'GET', '/core/users/?page_size=50');
      assert.equal(big.body.results.length, 5);
      assert.equal(big.body.pagination.total_pages, Math.ceil(big.body.pagination.count / 5));
    });

    it('tokens: key length and default lifetime', async () => {
      await patch({ default_token_length: 40, default_token_duration: 'hours=2' });
      const t = await call(srv, 'POST', '/core/tokens/', { identifier: 'len-40', intent: 'api' });
      assert.equal(t.status, 201, JSON.stringify(t.body));
      const key = (await call(srv, 'GET', '/core/tokens/len-40/view_key/')).body.key;
      assert.equal(key.length, 40);
      const lifetime = new Date(t.body.expires).getTime() - Date.now();
      assert.ok(lifetime > 1.9 * 3_600_000 && lifetime <= 2 * 3_600_000, String(lifetime));
    });

    it('footer links and UI flags: /core/brands/current/ and the flow page', async () => {
      const links = [{ name: 'Imprint & <privacy>', href: 'https://example.com/imprint' }];
      await patch({ footer_links: links, flags: { flows_continuous_login: true } });
      const current = (await call(srv, 'GET', '/core/brands/current/')).body;
      assert.deepEqual(current.ui_footer_links, links);
      assert.deepEqual(current.flags, { flows_continuous_login: true, flows_refresh_others: false });
      const page = await (await fetch(`${srv.url}/if/flow/default-authentication-flow/`)).text();
      assert.match(
        page,
        /<footer class="ks-footer"><ul><li><a href="https:\/\/example.com\/imprint">Imprint &#38; &#60;privacy&#62;<\/a><\/li><\/ul><\/footer>/,
      );
      assert.match(page, /<ak-flow-executor [^>]*continuous-login>/);
    });

    it('core_default_app_access: an application without bindings is closed when the flag is off', async () => {
      const app = await call(srv, 'POST', '/core/applications/', { name: 'Open by default', slug: 'open-by-default' });
      assert.equal(app.status, 201);
      const pk = await createUser(srv, 'app-user', 'app-user-pass');
      const check = async () => (await call(srv, 'GET', `/core/applications/open-by-default/check_access/?for_user=${pk}`)).body.passing;
      assert.equal(await check(), true);
      await patch({ flags: { core_default_app_access: false } });
      assert.equal(await check(), false);
      // the flags sent replace the stored ones: one left out takes its default (authentik's JSON field)
      await patch({ flags: {} });
      assert.equal(await check(), true);
    });

    it('gdpr_compliance: a deleted user’s events go with them (also when a holder of delete_user deletes)', async () => {
      const eventsOf = async (pk: number) =>
        (await srv.app.store.db.selectFrom('events').select('user').execute()).filter((e) => JSON.parse(e.user).pk === pk).length;
      const kept = await createUser(srv, 'gdpr-off', 'gdpr-off-pass');
      await loggedIn(srv, 'gdpr-off', 'gdpr-off-pass');
      assert.ok((await eventsOf(kept)) > 0);
      await patch({ gdpr_compliance: false });
      assert.equal((await call(srv, 'DELETE', `/core/users/${kept}/`)).status, 204);
      assert.ok((await eventsOf(kept)) > 0, 'kept without GDPR compliance');
      await patch({ gdpr_compliance: true });
      const gone = await createUser(srv, 'gdpr-on', 'gdpr-on-pass');
      await loggedIn(srv, 'gdpr-on', 'gdpr-on-pass');
      assert.ok((await eventsOf(gone)) > 0);
      // deleted by someone who is not a superuser but holds delete_user
      const deleter = await createUser(srv, 'user-deleter', 'user-deleter-pass');
      const token = await tokenFor(srv, deleter, 'user-deleter-key-0123456789abcdefghijklm');
      const role = (await call(srv, 'POST', '/rbac/roles/', { name: 'user-deleters' })).body.pk;
      await call(srv, 'POST', `/rbac/roles/${role}/add_user/`, { pk: deleter });
      await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${role}/assign/`, {
        permissions: ['authentik_core.view_user', 'authentik_core.delete_user'],
      });
      assert.equal((await callAs(srv, token, 'DELETE', `/core/users/${gone}/`)).status, 204);
      assert.equal(await eventsOf(gone), 0);
    });

    it('reputation limits and event retention apply to what is recorded next', async () => {
      await patch({ reputation_upper_limit: 1, event_retention: 'days=2' });
      await createUser(srv, 'rep-user', 'rep-user-pass');
      await loggedIn(srv, 'rep-user', 'rep-user-pass');
      await loggedIn(srv, 'rep-user', 'rep-user-pass');
      const score = await srv.app.store.db
        .selectFrom('reputation_scores')
        .select('score')
        .where('identifier', '=', 'rep-user')
        .executeTakeFirst();
      assert.equal(Number(score?.score), 1);
      // (an event written after the change: the password set for rep-user)
      const last = await srv.app.store.db
        .selectFrom('events')
        .select(['created', 'expires'])
        .where('action', '=', 'password_set')
        .orderBy('created', 'desc')
        .executeTakeFirstOrThrow();
      const kept = new Date(last.expires).getTime() - new Date(last.created).getTime();
      assert.equal(kept, 2 * 86_400_000);
    });

    it('audit diffs: what an admin write changed, relations expanded with enterprise_audit_include_expanded_diff', async () => {
      const diffOf = async (name: string) => {
        const rows = await srv.app.store.db
          .selectFrom('events')
          .select(['context', 'created'])
          .where('action', '=', 'model_updated')
          // (in the order they were written: without an order PostgreSQL may return them in any)
          .orderBy('created')
          .execute();
        const mine = rows.map((r) => JSON.parse(r.context)).filter((c) => c.model?.name === name);
        return mine[mine.length - 1]?.diff;
      };
      const g = await call(srv, 'POST', '/core/groups/', { name: 'audited' });
      assert.equal(g.status, 201);
      const created = (await srv.app.store.db.selectFrom('events').select('context').where('action', '=', 'model_created').execute())
        .map((r) => JSON.parse(r.context))
        .find((c) => c.model?.name === 'audited');
      assert.deepEqual(created.diff.name, { previous_value: null, new_value: 'audited' });
      const u = await createUser(srv, 'audited-member', 'audited-member-pass');
      await call(srv, 'PATCH', `/core/groups/${g.body.pk}/`, { attributes: { team: 'blue' }, users: [u] });
      const first = await diffOf('audited');
      assert.deepEqual(first.attributes, { previous_value: {}, new_value: { team: 'blue' } });
      assert.equal(first.users, undefined, 'no relations without the flag');
      await patch({ flags: { enterprise_audit_include_expanded_diff: true } });
      await call(srv, 'PATCH', `/core/groups/${g.body.pk}/`, { users: [] });
      assert.deepEqual((await diffOf('audited')).users, { remove: [String(u)] });
      // values under names of credentials are cleansed (an OAuth2 provider's signing key reference)
      const t = await call(srv, 'POST', '/core/tokens/', { identifier: 'audited-token', intent: 'api', description: 'old' });
      assert.equal(t.status, 201);
      await call(srv, 'PATCH', '/core/tokens/audited-token/', { description: 'new' });
      assert.deepEqual((await diffOf('audited-token')).description, { previous_value: 'old', new_value: 'new' });
      const kp = (await call(srv, 'GET', '/crypto/certificatekeypairs/?page_size=1')).body.results[0].pk;
      const flows = (await call(srv, 'GET', '/flows/instances/?page_size=100')).body.results as { pk: string; slug: string }[];
      const flow = (slug: string) => flows.find((f) => f.slug === slug)!.pk;
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'audited-provider',
        authorization_flow: flow('default-provider-authorization-implicit-consent'),
        invalidation_flow: flow('default-provider-invalidation-flow'),
        redirect_uris: [{ matching_mode: 'strict', url: 'http://127.0.0.1/cb' }],
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      await call(srv, 'PATCH', `/providers/oauth2/${p.body.pk}/`, { signing_key: kp });
      assert.deepEqual((await diffOf('audited-provider')).signing_key, { previous_value: null, new_value: '********************' });
    });

    it('avatars: none, gravatar with initials after it, attributes, URL templates', async () => {
      const withMail = await createUser(srv, 'ava-mail', 'ava-mail-pass');
      const noMail = await call(srv, 'POST', '/core/users/', { username: 'ava-nomail', name: 'No Mail', email: '' });
      const avatar = async (pk: number) => (await call(srv, 'GET', `/core/users/${pk}/`)).body.avatar as string;
      const initials = await avatar(noMail.body.pk);
      assert.match(initials, /^data:image\/svg\+xml;base64,/);
      await patch({ avatars: 'gravatar,initials' });
      const md5 = createHash('md5').update('ava-mail@example.com').digest('hex');
      assert.equal(await avatar(withMail), `https://www.gravatar.com/avatar/${md5}?size=158&rating=g&default=mp`);
      assert.equal(await avatar(noMail.body.pk), initials, 'no e-mail: the next mode');
      await patch({ avatars: 'attributes.picture,https://img.example.com/%(username)s.png' });
      await call(srv, 'PATCH', `/core/users/${withMail}/`, { attributes: { picture: 'https://cdn.example.com/me.jpg' } });
      assert.equal(await avatar(withMail), 'https://cdn.example.com/me.jpg');
      assert.equal(await avatar(noMail.body.pk), 'https://img.example.com/ava-nomail.png');
      await patch({ avatars: 'none' });
      const none = await avatar(withMail);
      assert.notEqual(none, initials);
      assert.match(none, /^data:image\/svg\+xml;base64,/);
    });
  });
}
