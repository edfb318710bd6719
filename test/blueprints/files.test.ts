/**
 * Blueprint files (SQLite and PostgreSQL): the blueprints folder is listed by `available/` (hidden, non-YAML, other
 * versions and files outside the folder left out); discovery at start makes an instance per file (named by its
 * metadata, none for `instantiate: "false"`) and applies it as the system, with `!Env` and `!File`; a changed file
 * is applied again, an unchanged one not, a removed one's instance deleted; instances naming a path through the API (missing, outside, OCI, a taken
 * name: 400s); `metaapplyblueprint` applies the instance it names first (required, not required, disabled, a
 * cycle); `metausersetpassword` (from the environment, sessions ended, unusable); two nodes discovering one folder at once apply each file once.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { ManagedApi } from '@goauthentik/api/dist/apis/ManagedApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { createUser, loggedIn } from '../helpers/flows.js';
import { Browser } from '../helpers/browser.js';

const sha512 = (text: string) => createHash('sha512').update(text).digest('hex');

/** a dummy stage entry; `name` is YAML as written (a tag) when it starts with `!` */
const dummy = (name: string, extra = '') => `  - model: authentik_stages_dummy.dummystage
    identifiers: { name: ${name.startsWith('!') ? name : JSON.stringify(name)} }${extra}
`;
const file = (meta: string | undefined, entries: string) => `version: 1\n${meta ? `metadata:\n${meta}` : ''}entries:\n${entries}`;

const ENV_KEY = 'KEYSTAGE_TEST_BLUEPRINT_STAGE_NAME';
const PASSWORD_KEY = 'KEYSTAGE_TEST_BLUEPRINT_PASSWORD';

async function stageNames(srv: TestServer, search: string): Promise<string[]> {
  const r = await call(srv, 'GET', `/stages/dummy/?search=${encodeURIComponent(search)}&ordering=name`);
  assert.equal(r.status, 200);
  return r.body.results.map((s: { name: string }) => s.name);
}

async function instances(srv: TestServer): Promise<Record<string, any>> {
  const r = await call(srv, 'GET', '/managed/blueprints/?page_size=100');
  assert.equal(r.status, 200);
  return Object.fromEntries(r.body.results.map((i: { name: string }) => [i.name, i]));
}

for (const dialect of dialects()) {
  describe(`blueprints: the blueprints folder (${dialect})`, () => {
    let dir: string;
    let outside: string;
    let srv: TestServer;
    const texts: Record<string, string> = {};
    const logs: string[] = [];
    const put = async (path: string, text: string) => {
      texts[path] = text;
      await mkdir(join(dir, path, '..'), { recursive: true });
      await writeFile(join(dir, path), text);
    };

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'keystage-blueprints-'));
      outside = await mkdtemp(join(tmpdir(), 'keystage-outside-'));
      process.env[ENV_KEY] = 'files-from-env';
      await writeFile(join(outside, 'secret.txt'), '  files-from-file\n');
      await writeFile(join(outside, 'elsewhere.yaml'), file('  name: Elsewhere\n', dummy('files-elsewhere')));
      await put(
        'flows/first.yaml',
        file(
          '  name: Files - first\n  labels: { team: identity }\n',
          dummy(`!Env [${ENV_KEY}, unset]`) +
            dummy(`!File [${join(outside, 'secret.txt')}, unset]`) +
            dummy(`!File [${join(outside, 'missing.txt')}, files-default]`) +
            // (a model whose rendering reads the request's query: discovery's writes have no HTTP request)
            '  - model: authentik_core.group\n    state: created\n    identifiers: { name: files-group }\n',
        ),
      );
      await put('nameless.yaml', file(undefined, dummy('files-nameless')));
      await put(
        'manual.yaml',
        file('  name: Files - manual\n  labels:\n    blueprints.goauthentik.io/instantiate: "false"\n', dummy('files-manual')),
      );
      await put('.hidden/h.yaml', file('  name: Files - hidden\n', dummy('files-hidden')));
      await put('other.yml', file('  name: Files - yml\n', dummy('files-yml')));
      await put('broken.yaml', 'version: 1\nentries: [\n');
      await put('v2.yaml', 'version: 2\nentries: []\n');
      await symlink(join(outside, 'elsewhere.yaml'), join(dir, 'link-out.yaml'));
      srv = await startServer(dialect, { blueprintsDir: dir, logLevel: 'info' }, { logStream: { write: (l) => logs.push(l) } });
      await srv.app.blueprints.settled();
    });
    after(async () => {
      delete process.env[ENV_KEY];
      delete process.env[PASSWORD_KEY];
      await srv?.close();
      await rm(dir, { recursive: true, force: true });
      await rm(outside, { recursive: true, force: true });
    });

    it('available/ lists the version 1 YAML files of the folder, through the official client', async () => {
      const raw = await call(srv, 'GET', '/managed/blueprints/available/');
      assert.equal(raw.status, 200);
      // (a file without metadata has `meta: null`, as authentik answers, though its schema has no null there)
      for (const f of raw.body) if (f.meta !== null) assertMatches('BlueprintFile', f);
      assert.deepEqual(
        raw.body.map((f: { path: string }) => f.path),
        ['flows/first.yaml', 'manual.yaml', 'nameless.yaml'],
      );
      const managed = new ManagedApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      const listed = await managed.managedBlueprintsAvailableList();
      const first = listed.find((f) => f.path === 'flows/first.yaml')!;
      assert.equal(first.hash, sha512(texts['flows/first.yaml']!));
      assert.deepEqual(first.meta, { name: 'Files - first', labels: { team: 'identity' } });
      assert.ok(first.lastM instanceof Date && Math.abs(first.lastM.getTime() - Date.now()) < 600_000);
      assert.equal(listed.find((f) => f.path === 'nameless.yaml')!.meta, null);
    });

    it('discovery at start made an instance per file and applied it as the system, with !Env and !File', async () => {
      const all = await instances(srv);
      assert.deepEqual(Object.keys(all).sort(), ['Files - first', 'nameless.yaml']);
      const first = all['Files - first'];
      assert.equal(first.path, 'flows/first.yaml');
      assert.equal(first.status, 'successful');
      assert.equal(first.last_applied_hash, sha512(texts['flows/first.yaml']!));
      assert.deepEqual(first.managed_models, ['authentik_core.group', 'authentik_stages_dummy.dummystage']);
      assert.equal((await call(srv, 'GET', '/core/groups/?name=files-group')).body.results.length, 1);
      assert.deepEqual(first.metadata, { name: 'Files - first', labels: { team: 'identity' } });
      assert.equal(first.content, '');
      assert.equal(all['nameless.yaml'].status, 'successful');
      // the operator's log says what the discovery at start did
      const said = logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'blueprint files applied');
      assert.deepEqual(said?.files, { 'flows/first.yaml': 'applied', 'nameless.yaml': 'applied' });
      assert.deepEqual(await stageNames(srv, 'files-'), ['files-default', 'files-from-env', 'files-from-file', 'files-nameless']);
      // the audit trail names what the files made, with no user
      const ev = await call(srv, 'GET', '/events/events/?action=model_created&page_size=500');
      assert.equal(ev.status, 200);
      const made = ev.body.results.filter((e: { context: { model?: { name?: string } } }) => e.context.model?.name === 'files-from-env');
      assert.equal(made.length, 1, JSON.stringify(ev.body.results.slice(0, 3)));
      assert.equal(made[0].context.model.model_name, 'dummystage');
    });

    it('a changed file is applied again; an unchanged one is not', async () => {
      const before = (await instances(srv))['nameless.yaml'];
      await put('nameless.yaml', file(undefined, dummy('files-nameless', '\n    attrs: { throw_error: true }')));
      srv.app.blueprints.kick();
      await new Promise((r) => setTimeout(r, 700));
      await srv.app.blueprints.settled();
      const after = (await instances(srv))['nameless.yaml'];
      assert.equal(after.last_applied_hash, sha512(texts['nameless.yaml']!));
      assert.notEqual(after.last_applied_hash, before.last_applied_hash);
      const stage = (await call(srv, 'GET', '/stages/dummy/?name=files-nameless')).body.results[0];
      assert.equal(stage.throw_error, true);
      // unchanged: discovering again applies nothing (its last application keeps its time)
      const first = (await instances(srv))['Files - first'];
      await srv.app.blueprints.settled();
      assert.equal((await instances(srv))['Files - first'].last_applied, first.last_applied);
      // a file gone: its instance is deleted (authentik's clear_failed_blueprints), what it made stays
      await rm(join(dir, 'nameless.yaml'));
      await srv.app.blueprints.settled();
      assert.equal((await instances(srv))['nameless.yaml'], undefined);
      assert.deepEqual(await stageNames(srv, 'files-nameless'), ['files-nameless']);
    });

    it('a file applied by discovery takes effect at once where its objects were in use (a flow the node keeps in memory)', async () => {
      const FLOW = 'default-authentication-flow';
      const title = async () => (await new Browser(srv.api).get(FLOW)).body.flow_info.title;
      const was = await title();
      assert.equal(was, 'Welcome to Keystage!');
      const entry = `  - model: authentik_flows.flow\n    identifiers: { slug: ${FLOW} }\n    attrs: { title: Files - changed title }\n`;
      await put('title.yaml', file('  name: Files - title\n', entry));
      try {
        srv.app.blueprints.kick();
        await new Promise((r) => setTimeout(r, 700));
        await srv.app.blueprints.settled();
        assert.equal((await instances(srv))['Files - title']?.status, 'successful');
        // no admin request wrote it (discovery runs as the system), yet the next login sees it
        assert.equal(await title(), 'Files - changed title');
      } finally {
        await rm(join(dir, 'title.yaml'));
        await srv.app.blueprints.settled();
        assert.equal((await call(srv, 'PATCH', `/flows/instances/${FLOW}/`, { title: was })).status, 200);
      }
    });

    it('an instance names a file of the folder; apply/ reads it; a missing, outside or OCI path and a taken name are 400s', async () => {
      const made = await call(srv, 'POST', '/managed/blueprints/', { name: 'By hand', path: 'manual.yaml' });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assert.deepEqual(await stageNames(srv, 'files-manual'), []);
      const applied = await call(srv, 'POST', `/managed/blueprints/${made.body.pk}/apply/`);
      assert.equal(applied.status, 200);
      assert.equal(applied.body.status, 'successful');
      assert.equal(applied.body.last_applied_hash, sha512(texts['manual.yaml']!));
      assert.deepEqual(await stageNames(srv, 'files-manual'), ['files-manual']);
      for (const path of ['nope.yaml', '../elsewhere.yaml', 'link-out.yaml', '.hidden/h.yaml', 'other.yml', '/etc/passwd']) {
        const r = await call(srv, 'POST', '/managed/blueprints/', { name: `Bad ${path}`, path });
        assert.equal(r.status, 400, path);
        assert.deepEqual(r.body, { path: ['Blueprint file does not exist'] }, path);
      }
      const oci = await call(srv, 'POST', '/managed/blueprints/', { name: 'OCI', path: 'oci://ghcr.io/x/y:latest' });
      assert.deepEqual([oci.status, oci.body], [400, { path: ['OCI blueprints are not supported by Keystage'] }]);
      const taken = await call(srv, 'POST', '/managed/blueprints/', { name: 'By hand', path: 'manual.yaml' });
      assert.deepEqual([taken.status, taken.body], [400, { name: ['blueprint instance with this name already exists.'] }]);
    });

    it('metaapplyblueprint applies the instance it names first, in the same transaction', async () => {
      await put('deps/base.yaml', file('  name: Files - base\n', dummy('files-base')));
      await put(
        'deps/uses.yaml',
        file(
          '  name: Files - uses\n',
          `  - model: authentik_blueprints.metaapplyblueprint
    attrs: { identifiers: { name: Files - base }, required: true }
  - model: authentik_flows.flow
    identifiers: { slug: files-uses }
    attrs: { name: Files uses, title: Files uses, designation: authentication }
  - model: authentik_flows.flowstagebinding
    identifiers:
      target: !Find [authentik_flows.flow, [slug, files-uses]]
      stage: !Find [authentik_stages_dummy.dummystage, [name, files-base]]
      order: 10
`,
        ),
      );
      await srv.app.blueprints.settled();
      const all = await instances(srv);
      assert.equal(all['Files - uses'].status, 'successful');
      assert.equal(all['Files - base'].status, 'successful');
      const bindings = await call(srv, 'GET', '/flows/bindings/?target__slug=files-uses');
      const flow = (await call(srv, 'GET', '/flows/instances/files-uses/')).body;
      const bound = (await call(srv, 'GET', `/flows/bindings/?target=${flow.pk}`)).body.results;
      assert.equal(bindings.status, 200);
      assert.deepEqual(
        bound.map((b: { stage_obj: { name: string } }) => b.stage_obj.name),
        ['files-base'],
      );

      // an upload may name a file's instance too; a missing one is its error unless not required; a disabled one is skipped
      const upload = async (text: string) => {
        const form = new FormData();
        form.set('file', new Blob([text]), 'b.yaml');
        const res = await fetch(`${srv.api}/managed/blueprints/import/`, {
          method: 'POST',
          headers: { authorization: `Bearer ${srv.token}` },
          body: form,
        });
        return (await res.json()) as { success: boolean; logs: { event: string }[] };
      };
      const meta = (identifiers: string, required: boolean) =>
        `  - model: authentik_blueprints.metaapplyblueprint\n    attrs: { identifiers: ${identifiers}, required: ${required} }\n`;
      const missing = await upload(file(undefined, meta('{ name: Nothing }', true) + dummy('files-after-missing')));
      assert.equal(missing.success, false);
      assert.ok(missing.logs.some((l) => l.event === 'Entry invalid: identifiers: Required blueprint does not exist'));
      assert.deepEqual(await stageNames(srv, 'files-after-missing'), []);
      const optional = await upload(file(undefined, meta('{ name: Nothing }', false) + dummy('files-after-optional')));
      assert.equal(optional.success, true);
      assert.deepEqual(await stageNames(srv, 'files-after-optional'), ['files-after-optional']);
      // by path; the nested file reads the environment (it is a file of the folder)
      await call(srv, 'DELETE', `/stages/dummy/${(await call(srv, 'GET', '/stages/dummy/?name=files-from-env')).body.results[0].pk}/`);
      const byPath = await upload(file(undefined, meta('{ path: flows/first.yaml }', true)));
      assert.equal(byPath.success, true, JSON.stringify(byPath.logs));
      assert.deepEqual(await stageNames(srv, 'files-from-env'), ['files-from-env']);
      // a nested failure fails the entry naming it, and nothing of either is written
      await put(
        'deps/failing.yaml',
        file('  name: Files - failing\n', dummy('files-nested-ok') + dummy('files-bad', '\n    attrs: { throw_error: 7 }')),
      );
      await srv.app.blueprints.settled();
      assert.equal((await instances(srv))['Files - failing'].status, 'error');
      const nestedFails = await upload(file(undefined, dummy('files-outer') + meta('{ name: Files - failing }', true)));
      assert.equal(nestedFails.success, false);
      assert.ok(nestedFails.logs.some((l) => l.event.startsWith('Entry invalid: Blueprint Files - failing: Serializer errors')));
      assert.deepEqual(await stageNames(srv, 'files-outer'), []);
      assert.deepEqual(await stageNames(srv, 'files-nested-ok'), []);
      // disabled: skipped
      const failing = (await instances(srv))['Files - failing'];
      assert.equal((await call(srv, 'PATCH', `/managed/blueprints/${failing.pk}/`, { enabled: false })).status, 200);
      const disabled = await upload(file(undefined, dummy('files-outer') + meta('{ name: Files - failing }', true)));
      assert.equal(disabled.success, true);
      assert.deepEqual(await stageNames(srv, 'files-outer'), ['files-outer']);
      // a nested file is recorded as applied: its own turn in the same discovery finds it so (a must_created entry
      // applied twice would be an error)
      await put('nest/a-outer.yaml', file('  name: Files - nest outer\n', meta('{ name: Files - nest inner }', true)));
      await put('nest/z-inner.yaml', file('  name: Files - nest inner\n', dummy('files-nest-once', '\n    state: must_created')));
      await srv.app.blueprints.settled();
      const nest = await instances(srv);
      assert.equal(nest['Files - nest outer'].status, 'successful');
      assert.equal(nest['Files - nest inner'].status, 'successful');
      assert.equal(nest['Files - nest inner'].last_applied_hash, sha512(texts['nest/z-inner.yaml']!));
      assert.deepEqual(await stageNames(srv, 'files-nest-once'), ['files-nest-once']);
      // a cycle is refused
      await put('cycle/a.yaml', file('  name: Files - cycle a\n', meta('{ name: Files - cycle b }', true)));
      await put('cycle/b.yaml', file('  name: Files - cycle b\n', meta('{ name: Files - cycle a }', true)));
      await srv.app.blueprints.settled();
      const cyc = await instances(srv);
      assert.equal(cyc['Files - cycle a'].status, 'error');
      assert.equal(cyc['Files - cycle b'].status, 'error');
      const cycle = await upload(file(undefined, meta('{ name: Files - cycle a }', true)));
      assert.ok(
        cycle.logs.some((l) =>
          /Blueprint Files - cycle a: Blueprint Files - cycle b: Blueprint Files - cycle a is already being applied/.test(l.event),
        ),
        JSON.stringify(cycle.logs),
      );
    });

    it("metausersetpassword sets a user's password from the environment, ends their sessions, or makes it unusable", async () => {
      await createUser(srv, 'files-user', 'Old-password-1');
      const before = await loggedIn(srv, 'files-user', 'Old-password-1');
      process.env[PASSWORD_KEY] = 'New-password-from-env-2';
      await put(
        'users/password.yaml',
        file(
          '  name: Files - password\n',
          `  - model: authentik_blueprints.metausersetpassword
    attrs: { user_identifiers: { username: files-user }, raw_password: !Env ${PASSWORD_KEY} }
`,
        ),
      );
      await srv.app.blueprints.settled();
      assert.equal((await instances(srv))['Files - password'].status, 'successful');
      assert.equal((await before.me()).status, 403, 'the session of the old password ended');
      const events = (await call(srv, 'GET', '/events/events/?action=password_set&page_size=100')).body.results;
      assert.ok(events.some((e: { context: { user?: { username?: string } } }) => e.context.user?.username === 'files-user'));
      await loggedIn(srv, 'files-user', 'New-password-from-env-2');
      const old = new Browser(srv.api);
      await old.get('default-authentication-flow');
      await old.solve('default-authentication-flow', { component: 'ak-stage-identification', uidField: 'files-user' });
      const refused = await old.solve('default-authentication-flow', { component: 'ak-stage-password', password: 'Old-password-1' });
      assert.equal(refused.body.component, 'ak-stage-password');

      const form = (text: string) => {
        const f = new FormData();
        f.set('file', new Blob([text]), 'b.yaml');
        return f;
      };
      const upload = async (text: string) =>
        (await (
          await fetch(`${srv.api}/managed/blueprints/import/`, {
            method: 'POST',
            headers: { authorization: `Bearer ${srv.token}` },
            body: form(text),
          })
        ).json()) as { success: boolean; logs: { event: string }[] };
      const setPassword = (user: string, extra: string) =>
        file(
          undefined,
          `  - model: authentik_blueprints.metausersetpassword\n    attrs: { user_identifiers: { username: ${user} }, raw_password: x${extra} }\n`,
        );
      const nobody = await upload(setPassword('files-nobody', ''));
      assert.equal(nobody.success, false);
      assert.ok(nobody.logs.some((l) => l.event === 'Entry invalid: User does not exist'));
      const unusable = await upload(setPassword('files-user', ', set_unusable: true'));
      assert.equal(unusable.success, true, JSON.stringify(unusable.logs));
      const after = new Browser(srv.api);
      await after.get('default-authentication-flow');
      await after.solve('default-authentication-flow', { component: 'ak-stage-identification', uidField: 'files-user' });
      const none = await after.solve('default-authentication-flow', {
        component: 'ak-stage-password',
        password: 'New-password-from-env-2',
      });
      assert.equal(none.body.component, 'ak-stage-password', 'an unusable password lets nobody in');
      // a user whose password an LDAP directory keeps: refused (the API's set_password writes the directory)
      const source = await call(srv, 'POST', '/sources/ldap/', {
        name: 'Files directory',
        slug: 'files-directory',
        server_uri: 'ldap://127.0.0.1:9',
        base_dn: 'dc=example,dc=org',
        sync_users_password: true,
        sync_users: false,
        sync_groups: false,
      });
      assert.equal(source.status, 201, JSON.stringify(source.body));
      const connected = await createUser(srv, 'files-ldap-user', 'Ldap-password-3');
      const link = await call(srv, 'POST', '/sources/user_connections/ldap/', {
        source: source.body.pk,
        identifier: 'uid=files-ldap-user,dc=example,dc=org',
      });
      assert.equal(link.status, 201, JSON.stringify(link.body));
      // (the API connects the caller: the connection is moved to the user, as a sync would have made it)
      await srv.app.services.db.updateTable('user_source_connections').set({ user_id: connected }).where('id', '=', link.body.pk).execute();
      const kept = await upload(setPassword('files-ldap-user', ''));
      assert.equal(kept.success, false);
      assert.ok(
        kept.logs.some((l) => l.event.includes("The user's password is kept in an LDAP directory")),
        JSON.stringify(kept.logs),
      );
      await loggedIn(srv, 'files-ldap-user', 'Ldap-password-3');
    });
  });
}

describe('blueprints: two nodes discover one folder at once (postgres)', {
  skip: !process.env.KEYSTAGE_TEST_DATABASE_URL && 'needs KEYSTAGE_TEST_DATABASE_URL: several nodes share PostgreSQL',
}, () => {
  const dialect = 'postgres' as const;
  let dir: string;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keystage-blueprints-'));
    // must_created: a second application of this file would be an error
    await writeFile(join(dir, 'once.yaml'), file('  name: Once\n', dummy('files-once', '\n    state: must_created')));
    a = await startServer(dialect, { blueprintsDir: dir });
    b = await startServer(dialect, { databaseUrl: a.config.databaseUrl, blueprintsDir: dir });
  });
  after(async () => {
    await b?.close();
    await a?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('each file is applied once', async () => {
    await Promise.all([a.app.blueprints.settled(), b.app.blueprints.settled()]);
    // several new files: each node reads the instances of all before applying them one by one, so a node's row is
    // often one the other node has applied since (the hash is checked again inside the import's transaction)
    const names = ['t1', 't2', 't3', 't4', 't5', 't6'];
    await Promise.all(
      names.map((n) => writeFile(join(dir, `${n}.yaml`), file(`  name: Twice ${n}\n`, dummy(`files-${n}`, '\n    state: must_created')))),
    );
    for (let round = 0; round < 3; round++) await Promise.all([a.app.blueprints.settled(), b.app.blueprints.settled()]);
    const all = await instances(a);
    assert.deepEqual(Object.keys(all).sort(), ['Once', ...names.map((n) => `Twice ${n}`)]);
    for (const i of Object.values(all)) assert.equal(i.status, 'successful', i.name);
    assert.deepEqual(await stageNames(b, 'files-'), ['files-once', ...names.map((n) => `files-${n}`)]);
    // a node whose folder is missing (a volume not mounted) deletes no instance
    await rename(dir, `${dir}-away`);
    try {
      await a.app.blueprints.settled();
      assert.equal(Object.keys(await instances(a)).length, names.length + 1);
    } finally {
      await rename(`${dir}-away`, dir);
    }
  });
});
