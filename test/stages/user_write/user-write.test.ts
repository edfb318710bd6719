/**
 * The user write stage: its API (official client and raw HTTP, 400s), and each option through the executor —
 * user_creation_mode (always_create, create_when_required, never_create), create_users_as_inactive,
 * create_users_group, user_type, user_path_template — what prompt data may change (username, name, e-mail,
 * password, attributes) and what it never may (is_superuser, is_active, groups, type, path, uuid, pk, …); what a
 * policy puts into the plan (groups, user_type, user_path).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { Browser } from '../../helpers/browser.js';
import { bindExpression, createStage, createUser, defaultStages, flowOf, userPk } from '../../helpers/flows.js';
import { assertMatches } from '../../helpers/openapi-schema.js';
import { body, clients, failure } from '../../rest/contract/client.js';

let n = 0;

for (const dialect of dialects()) {
  describe(`user write stage (${dialect})`, () => {
    let srv: TestServer;
    let login: string;
    let group: string;
    before(async () => {
      srv = await startServer(dialect);
      login = (await defaultStages(srv)).login;
      const g = await call(srv, 'POST', '/core/groups/', { name: 'uw-signups' });
      assert.equal(g.status, 201, JSON.stringify(g.body));
      group = g.body.pk;
    });
    after(async () => srv.close());

    /** a prompt stage asking for these text fields (username as type username) */
    async function prompts(keys: string[]): Promise<string> {
      const fields: string[] = [];
      for (const key of keys) {
        const type = key === 'username' ? 'username' : key.startsWith('password') ? 'password' : 'text';
        const r = await call(srv, 'POST', '/stages/prompt/prompts/', { name: `uw-${++n}`, field_key: key, label: key, type });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        fields.push(r.body.pk);
      }
      return createStage(srv, '/stages/prompt/stages/', { name: `uw-prompt-${++n}`, fields });
    }

    async function writer(extra: Record<string, unknown> = {}): Promise<string> {
      return createStage(srv, '/stages/user_write/', { name: `uw-write-${++n}`, ...extra });
    }

    async function flow(stages: string[], designation = 'enrollment'): Promise<string> {
      return flowOf(srv, `uw-flow-${++n}`, stages, { designation });
    }

    const user = async (username: string) =>
      (await call(srv, 'GET', `/core/users/?username=${encodeURIComponent(username)}`)).body.results[0];
    const submit = (b: Browser, slug: string, data: Record<string, unknown>) =>
      b.solve(slug, { component: 'ak-stage-prompt', ...data } as never);

    async function loggedIn(username: string, password: string): Promise<Browser> {
      const b = new Browser(srv.api);
      await b.get('default-authentication-flow');
      await b.solve('default-authentication-flow', { component: 'ak-stage-identification', uidField: username });
      const r = await b.solve('default-authentication-flow', { component: 'ak-stage-password', password });
      assert.equal(r.body.component, 'xak-flow-redirect');
      return b;
    }

    it('API: defaults, every option, and 400s for bad values (official client, raw HTTP)', async () => {
      const api = clients(srv).stages;
      const created = await body(api.stagesUserWriteCreateRaw({ userWriteStageRequest: { name: 'uw-api' } }));
      assertMatches('UserWriteStage', created);
      assert.deepEqual(
        {
          user_creation_mode: created.user_creation_mode,
          create_users_as_inactive: created.create_users_as_inactive,
          create_users_group: created.create_users_group,
          user_type: created.user_type,
          user_path_template: created.user_path_template,
          component: created.component,
          meta_model_name: created.meta_model_name,
        },
        {
          user_creation_mode: 'create_when_required',
          create_users_as_inactive: false,
          create_users_group: null,
          user_type: 'external',
          user_path_template: '',
          component: 'ak-stage-user-write-form',
          meta_model_name: 'authentik_stages_user_write.userwritestage',
        },
      );
      const patched = await body(
        api.stagesUserWritePartialUpdateRaw({
          stageUuid: created.pk,
          patchedUserWriteStageRequest: {
            userCreationMode: 'always_create',
            createUsersAsInactive: true,
            createUsersGroup: group,
            userType: 'internal',
            userPathTemplate: 'users/signups',
          },
        }),
      );
      assert.equal(patched.user_creation_mode, 'always_create');
      assert.equal(patched.create_users_group, group);
      assert.equal(patched.user_path_template, 'users/signups');
      assert.equal((await body(api.stagesUserWriteListRaw({ createUsersGroup: group }))).results.length, 1);
      assert.equal((await body(api.stagesUserWriteListRaw({ userType: 'service_account' }))).results.length, 0);

      const bad = await call(srv, 'POST', '/stages/user_write/', {
        name: 'uw-bad',
        user_creation_mode: 'sometimes',
        create_users_as_inactive: 'maybe',
        create_users_group: '00000000-0000-4000-8000-000000000000',
        user_type: 'robot',
      });
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body, {
        user_creation_mode: ['"sometimes" is not a valid choice.'],
        create_users_as_inactive: ['Must be a valid boolean.'],
        create_users_group: ['Invalid pk "00000000-0000-4000-8000-000000000000" - object does not exist.'],
        user_type: ['"robot" is not a valid choice.'],
      });
      const path = await call(srv, 'POST', '/stages/user_write/', { name: 'uw-path', user_path_template: '/users/' });
      assert.deepEqual(path.body, { user_path_template: ['No leading or trailing slashes allowed.'] });
      const empty = await call(srv, 'POST', '/stages/user_write/', { name: 'uw-path', user_path_template: 'a//b' });
      assert.deepEqual(empty.body, { user_path_template: ['No empty segments in user path allowed.'] });
      // a deleted group leaves the stage without one
      const g = await call(srv, 'POST', '/core/groups/', { name: 'uw-doomed' });
      const s = await call(srv, 'POST', '/stages/user_write/', { name: 'uw-doomed-stage', create_users_group: g.body.pk });
      assert.equal((await call(srv, 'DELETE', `/core/groups/${g.body.pk}/`)).status, 204);
      assert.equal((await call(srv, 'GET', `/stages/user_write/${s.body.pk}/`)).body.create_users_group, null);
      assert.equal((await failure(api.stagesUserWriteRetrieveRaw({ stageUuid: '00000000-0000-4000-8000-000000000000' }))).status, 404);
    });

    it('always_create: an inactive user in the group, with the type and path; the login stage then refuses them', async () => {
      const slug = await flow([
        await prompts(['username', 'name', 'email', 'password']),
        await writer({
          user_creation_mode: 'always_create',
          create_users_as_inactive: true,
          create_users_group: group,
          user_type: 'internal_service_account',
          user_path_template: 'users/signups',
        }),
        login,
      ]);
      const b = new Browser(srv.api);
      await b.get(slug);
      const r = await submit(b, slug, { username: 'uw-inactive', name: 'In Active', email: 'ia@example.com', password: 'inactive-pass-1' });
      assert.equal(r.body.component, 'ak-stage-access-denied', 'an inactive user cannot log in');
      const u = await user('uw-inactive');
      assert.equal(u.is_active, false);
      assert.equal(u.type, 'service_account', 'internal_service_account is written as service_account, as authentik');
      assert.equal(u.path, 'users/signups');
      assert.deepEqual(u.groups, [group]);
      assert.equal(u.name, 'In Active');
      assert.equal(u.email, 'ia@example.com');
      assert.equal((await b.me()).status, 403, 'not logged in');
    });

    it("a policy's groups, user_type and user_path in the plan: the new user gets them; an unknown group writes nothing", async () => {
      const other = await call(srv, 'POST', '/core/groups/', { name: `uw-planned-${++n}` });
      const write = await writer({ create_users_group: group, user_type: 'internal', user_path_template: 'users/stage' });
      const slug = await flow([await prompts(['username']), write]);
      await bindExpression(
        srv,
        slug,
        write,
        [
          'plan = context["flow_plan"].context',
          `plan["groups"] = [${JSON.stringify(other.body.pk)}]`,
          'plan["user_type"] = "external"',
          'plan["user_path"] = "users/from-policy"',
          'return True',
        ].join('\n'),
      );
      const b = new Browser(srv.api);
      await b.get(slug);
      const r = await submit(b, slug, { username: 'uw-planned' });
      assert.equal(r.body.component, 'xak-flow-redirect', JSON.stringify(r.body));
      const u = await user('uw-planned');
      assert.equal(u.type, 'external');
      assert.equal(u.path, 'users/from-policy');
      assert.deepEqual([...u.groups].sort(), [group, other.body.pk].sort());

      // an existing user written again gets the plan's groups too (upstream adds them on every write), not the
      // stage's create_users_group (README: given to users the stage creates)
      const third = await call(srv, 'POST', '/core/groups/', { name: `uw-planned-${++n}` });
      const update = await writer({ create_users_group: group });
      const settings = await flow([await prompts(['name']), update], 'stage_configuration');
      await bindExpression(
        srv,
        settings,
        update,
        `context["flow_plan"].context["groups"] = [${JSON.stringify(third.body.pk)}]\nreturn True`,
      );
      await createUser(srv, 'uw-member', 'member-pass-1');
      const m = await loggedIn('uw-member', 'member-pass-1');
      await m.get(settings);
      assert.equal((await submit(m, settings, { name: 'Member' })).body.component, 'xak-flow-redirect');
      assert.deepEqual((await user('uw-member')).groups, [third.body.pk]);

      // a group that is not there: nothing is written
      const write2 = await writer();
      const slug2 = await flow([await prompts(['username']), write2]);
      await bindExpression(
        srv,
        slug2,
        write2,
        'context["flow_plan"].context["groups"] = ["00000000-0000-4000-8000-000000000000"]\nreturn True',
      );
      const b2 = new Browser(srv.api);
      await b2.get(slug2);
      const refused = await submit(b2, slug2, { username: 'uw-planned-missing' });
      assert.equal(refused.body.component, 'ak-stage-access-denied');
      assert.equal(refused.body.error_message, 'Failed to update user. Please try again later.');
      assert.equal(await user('uw-planned-missing'), undefined);
    });

    it('always_create creates another user even for a logged-in person; create_when_required updates them', async () => {
      await createUser(srv, 'uw-alice', 'alice-pass-1');
      const always = await flow([await prompts(['username']), await writer({ user_creation_mode: 'always_create' })]);
      const b = await loggedIn('uw-alice', 'alice-pass-1');
      await b.get(always);
      const r = await submit(b, always, { username: 'uw-alice-2' });
      assert.equal(r.body.component, 'xak-flow-redirect');
      assert.ok(await user('uw-alice-2'));
      assert.equal((await user('uw-alice')).username, 'uw-alice');

      const settings = await flow(
        [await prompts(['name', 'email', 'attributes.settings.locale', 'attributes_pronouns']), await writer()],
        'stage_configuration',
      );
      await b.get(settings);
      const s = await submit(b, settings, {
        name: 'Alice Changed',
        email: 'alice.changed@example.com',
        'attributes.settings.locale': 'de',
        attributes_pronouns: 'she',
      });
      assert.equal(s.body.component, 'xak-flow-redirect');
      const alice = await user('uw-alice');
      assert.equal(alice.name, 'Alice Changed');
      assert.equal(alice.email, 'alice.changed@example.com');
      assert.deepEqual(alice.attributes, { settings: { locale: 'de' }, pronouns: 'she' });
      assert.equal((await call(srv, 'GET', '/core/users/?username=Alice Changed')).body.results.length, 0, 'no new user');
    });

    it('a person setting their own password keeps this session; their other sessions end', async () => {
      await createUser(srv, 'uw-bob', 'bob-pass-1');
      const other = await loggedIn('uw-bob', 'bob-pass-1');
      const b = await loggedIn('uw-bob', 'bob-pass-1');
      const slug = await flow(
        [await prompts(['password', 'password_repeat']), await writer({ user_creation_mode: 'never_create' })],
        'stage_configuration',
      );
      await b.get(slug);
      const r = await submit(b, slug, { password: 'bob-new-pass-2', password_repeat: 'bob-new-pass-2' });
      assert.equal(r.body.component, 'xak-flow-redirect', JSON.stringify(r.body));
      assert.equal((await b.me()).body.user.username, 'uw-bob', 'still logged in here');
      assert.equal((await other.me()).status, 403, 'the other session ended');
      await loggedIn('uw-bob', 'bob-new-pass-2');
      const events = await srv.app.store.db.selectFrom('events').select('action').where('username', '=', 'uw-bob').execute();
      assert.ok(events.some((e) => e.action === 'password_set'));
      assert.ok(events.some((e) => e.action === 'user_write'));
    });

    it('never_create: nobody to write to is access denied; the identified user is updated', async () => {
      const s = await defaultStages(srv);
      await createUser(srv, 'uw-carol', 'carol-pass-1');
      const slug = await flow([await prompts(['name']), await writer({ user_creation_mode: 'never_create' })]);
      const anon = new Browser(srv.api);
      await anon.get(slug);
      const denied = await submit(anon, slug, { name: 'Nobody' });
      assert.equal(denied.body.component, 'ak-stage-access-denied');
      assert.equal(denied.body.error_message, "No user found and can't create new user.");

      const identified = await flow([s.identification, await prompts(['name']), await writer({ user_creation_mode: 'never_create' })]);
      const b = new Browser(srv.api);
      await b.get(identified);
      await b.solve(identified, { component: 'ak-stage-identification', uidField: 'uw-carol' });
      const ok = await submit(b, identified, { name: 'Carol Updated' });
      assert.equal(ok.body.component, 'xak-flow-redirect');
      assert.equal((await user('uw-carol')).name, 'Carol Updated');

      // an identifier that matched nobody is nobody, whatever the mode short of always_create
      const ghost = new Browser(srv.api);
      const when = await flow([s.identification, await prompts(['name']), await writer()]);
      await ghost.get(when);
      await ghost.solve(when, { component: 'ak-stage-identification', uidField: 'uw-nobody-at-all' });
      const none = await submit(ghost, when, { name: 'Ghost' });
      assert.equal(none.body.component, 'ak-stage-access-denied');
      assert.equal((await call(srv, 'GET', '/core/users/?username=uw-nobody-at-all')).body.results.length, 0);
    });

    it('protected fields are never written from prompt data; a whole `attributes` value or a prototype key is refused', async () => {
      const keys = [
        'username',
        'is_superuser',
        'is_active',
        'groups',
        'type',
        'path',
        'uuid',
        'pk',
        'id',
        'last_login',
        'password_change_date',
      ];
      const slug = await flow([await prompts(keys), await writer({ create_users_as_inactive: true })]);
      const b = new Browser(srv.api);
      await b.get(slug);
      const r = await submit(b, slug, {
        username: 'uw-sneaky',
        is_superuser: 'true',
        is_active: 'true',
        groups: group,
        type: 'internal',
        path: 'admins',
        uuid: '00000000-0000-4000-8000-000000000000',
        pk: '1',
        id: '1',
        last_login: '2020-01-01T00:00:00Z',
        password_change_date: '2020-01-01T00:00:00Z',
      });
      assert.equal(r.body.component, 'xak-flow-redirect', JSON.stringify(r.body));
      const u = await user('uw-sneaky');
      assert.equal(u.is_superuser, false);
      assert.equal(u.is_active, false);
      assert.deepEqual(u.groups, []);
      assert.equal(u.type, 'external');
      assert.equal(u.path, 'users');
      assert.notEqual(u.uuid, '00000000-0000-4000-8000-000000000000');
      assert.notEqual(u.pk, 1);
      assert.equal(u.last_login, null);
      assert.deepEqual(u.attributes, {});
      assert.equal((await userPk(srv, 'akadmin')) !== u.pk, true);

      for (const [key, value] of [
        ['attributes', 'not a dictionary'],
        ['attributes.__proto__.polluted', 'yes'],
        ['attributes_constructor_prototype_x', 'yes'],
      ]) {
        const slug2 = await flow([await prompts(['username', key!]), await writer()]);
        const b2 = new Browser(srv.api);
        await b2.get(slug2);
        const refused = await submit(b2, slug2, { username: `uw-refused-${++n}`, [key!]: value });
        assert.equal(refused.body.component, 'ak-stage-access-denied', key);
        assert.equal(refused.body.error_message, 'Failed to update user. Please try again later.');
        assert.equal(({} as Record<string, unknown>).polluted, undefined);
      }
    });

    it('without prompt data: "No Pending data."; a username taken meanwhile is refused, nothing half-written', async () => {
      const bare = await flow([await writer()]);
      const b = new Browser(srv.api);
      const r = await b.get(bare);
      assert.equal(r.body.component, 'ak-stage-access-denied');
      assert.equal(r.body.error_message, 'No Pending data.');

      const slug = await flow([await prompts(['username', 'name']), await writer({ create_users_group: group })]);
      const late = new Browser(srv.api);
      await late.get(slug);
      // the prompt checks the name when it is asked for: taken since, it is refused there
      const textual = await flow([await prompts(['name']), await writer({ user_creation_mode: 'always_create' })]);
      const t = new Browser(srv.api);
      await t.get(textual);
      const blank = await submit(t, textual, { name: 'No Username' });
      assert.equal(blank.body.component, 'ak-stage-access-denied', 'a user without a username is never written');
      await createUser(srv, 'uw-raced', 'raced-pass-1');
      const members = async () => (await call(srv, 'GET', `/core/groups/${group}/`)).body.users.length;
      const before = await members();
      const raced = await submit(late, slug, { username: 'uw-raced', name: 'Second' });
      assert.equal(raced.body.response_errors?.username?.[0]?.string, 'Username is already taken.');
      // `username` arrives through a hidden field's value, already taken: the write is refused in its transaction
      const hidden = await call(srv, 'POST', '/stages/prompt/prompts/', {
        name: `uw-${++n}`,
        field_key: 'username',
        label: 'u',
        type: 'hidden',
        placeholder: 'uw-raced',
      });
      const stage = await createStage(srv, '/stages/prompt/stages/', { name: `uw-hidden-${++n}`, fields: [hidden.body.pk] });
      const hslug = await flow([stage, await writer({ user_creation_mode: 'always_create', create_users_group: group })]);
      const h = new Browser(srv.api);
      const denied = await h.get(hslug).then(() => submit(h, hslug, {}));
      assert.equal(denied.body.component, 'ak-stage-access-denied');
      assert.equal(denied.body.error_message, 'Failed to update user. Please try again later.');
      assert.equal(await members(), before, 'no membership written for a refused user');
      assert.equal((await call(srv, 'GET', '/core/users/?username=uw-raced')).body.results.length, 1);
    });
  });
}
