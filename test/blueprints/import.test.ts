/**
 * Blueprints (SQLite and PostgreSQL): a flow exported from one Keystage — stages, a prompt with its validation
 * policy, policies bound to the flow and to a stage binding — is imported into another through the official client
 * and logs a person in there; applying a file twice changes nothing; one invalid entry writes nothing; authentik's
 * YAML tags; the entry states; refusals (`!Env`, unknown tags and models, a wrong version, a missing file, bad
 * context); permissions per entry model; the audit events.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { ManagedApi } from '@goauthentik/api/dist/apis/ManagedApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createStage, createUser } from '../helpers/flows.js';
import { Browser } from '../helpers/browser.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { callAs, createUser as createPlainUser, tokenFor } from '../groups/setup.js';

/** POST /managed/blueprints/import/ with `text` as the file (raw: status and body) */
async function upload(srv: TestServer, text: string | undefined, extra: Record<string, string> = {}, token = srv.token) {
  const form = new FormData();
  if (text !== undefined) form.set('file', new Blob([text], { type: 'application/yaml' }), 'blueprint.yaml');
  for (const [k, v] of Object.entries(extra)) form.set(k, v);
  const res = await fetch(`${srv.api}/managed/blueprints/import/`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
  });
  return { status: res.status, body: (await res.json()) as any };
}

const events = (r: { body: { logs: { event: string }[] } }) => r.body.logs.map((l) => l.event);
const count = async (srv: TestServer, path: string) => (await call(srv, 'GET', `${path}?page_size=1`)).body.pagination.count as number;

/** a flow of every kind of object an export carries: stages, a prompt and its policy, policies bound to flow and binding */
async function portableFlow(srv: TestServer): Promise<string> {
  const policy = async (name: string, expression: string) =>
    (await call(srv, 'POST', '/policies/expression/', { name, expression })).body.pk as string;
  const nicknameCheck = await policy('portable-nickname-check', 'return request.context["prompt_data"]["nickname"] != "nope"');
  const prompt = (
    await call(srv, 'POST', '/stages/prompt/prompts/', {
      name: 'portable-nickname',
      field_key: 'nickname',
      label: 'Nickname',
      type: 'text',
      required: true,
      placeholder: 'Your nickname',
      order: 0,
    })
  ).body.pk;
  const stages = [
    await createStage(srv, '/stages/identification/', { name: 'portable-identification', user_fields: ['username'] }),
    await createStage(srv, '/stages/password/', { name: 'portable-password', backends: ['authentik.core.auth.InbuiltBackend'] }),
    await createStage(srv, '/stages/prompt/stages/', { name: 'portable-prompt', fields: [prompt], validation_policies: [nicknameCheck] }),
    await createStage(srv, '/stages/user_login/', { name: 'portable-login', session_duration: 'hours=2' }),
  ];
  const flow = await call(srv, 'POST', '/flows/instances/', {
    name: 'Portable login',
    slug: 'portable-login',
    title: 'Portable',
    designation: 'authentication',
  });
  assert.equal(flow.status, 201, JSON.stringify(flow.body));
  const bindings: string[] = [];
  for (const [i, stage] of stages.entries()) {
    const b = await call(srv, 'POST', '/flows/bindings/', { target: flow.body.pk, stage, order: (i + 1) * 10 });
    assert.equal(b.status, 201, JSON.stringify(b.body));
    bindings.push(b.body.pk);
  }
  const always = await policy('portable-always', 'return True');
  const onFlow = await call(srv, 'POST', '/policies/bindings/', { target: flow.body.pk, policy: always, order: 0 });
  assert.equal(onFlow.status, 201, JSON.stringify(onFlow.body));
  const onBinding = await call(srv, 'POST', '/policies/bindings/', { target: bindings[1], policy: always, order: 5, negate: false });
  assert.equal(onBinding.status, 201, JSON.stringify(onBinding.body));
  return flow.body.pk;
}

async function exported(srv: TestServer, slug: string): Promise<string> {
  const r = await fetch(`${srv.api}/flows/instances/${slug}/export/`, { headers: { authorization: `Bearer ${srv.token}` } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-disposition'), `attachment; filename="${slug}.yaml"`);
  return r.text();
}

for (const dialect of dialects()) {
  describe(`blueprints: export, import, instances (${dialect})`, () => {
    let a: TestServer;
    let b: TestServer;
    before(async () => {
      [a, b] = await Promise.all([startServer(dialect), startServer(dialect)]);
    });
    after(async () => Promise.all([a.close(), b.close()]));

    it('a flow exported from one instance applies to another, through the official client, and logs a person in there', async () => {
      await portableFlow(a);
      const text = await exported(a, 'portable-login');
      const doc = parse(text, { customTags: [{ tag: '!KeyOf', resolve: (s: string) => ({ keyOf: s }) }] });
      assert.deepEqual(
        doc.entries.map((e: { model: string }) => e.model),
        [
          'authentik_flows.flow',
          'authentik_stages_prompt.prompt',
          'authentik_policies_expression.expressionpolicy',
          'authentik_policies_expression.expressionpolicy',
          'authentik_stages_identification.identificationstage',
          'authentik_stages_user_login.userloginstage',
          'authentik_stages_password.passwordstage',
          'authentik_stages_prompt.promptstage',
          'authentik_flows.flowstagebinding',
          'authentik_flows.flowstagebinding',
          'authentik_flows.flowstagebinding',
          'authentik_flows.flowstagebinding',
          'authentik_policies.policybinding',
          'authentik_policies.policybinding',
        ],
      );
      // the policy bindings name their targets by the entries that make them
      const pbs = doc.entries.filter((e: { model: string }) => e.model === 'authentik_policies.policybinding');
      const ids = new Set(doc.entries.map((e: { id?: string }) => e.id).filter(Boolean));
      for (const pb of pbs) assert.ok(ids.has(pb.identifiers.target.keyOf), JSON.stringify(pb));
      // read-only fields and secrets stay out
      assert.equal(doc.entries[0].attrs.export_url, undefined);
      assert.equal(doc.entries[0].identifiers.slug, 'portable-login');

      const managed = new ManagedApi(new Configuration({ basePath: b.api, accessToken: b.token }));
      const flowsBefore = await count(b, '/flows/instances/');
      const result = await managed.managedBlueprintsImportCreate({ file: new Blob([text]) });
      assert.equal(result.success, true, JSON.stringify(result.logs.filter((l) => l.logLevel !== 'debug')));
      const raw = await upload(b, text); // and again: nothing new
      assertMatches('BlueprintImportResult', raw.body);
      assert.equal(raw.body.success, true);
      assert.equal(await count(b, '/flows/instances/'), flowsBefore + 1);

      const flow = (await call(b, 'GET', '/flows/instances/portable-login/')).body;
      // the objects were made with the pks the file names, so applying it again found them
      assert.equal(flow.pk, (await call(a, 'GET', '/flows/instances/portable-login/')).body.pk);
      assert.deepEqual([flow.name, flow.title, flow.designation], ['Portable login', 'Portable', 'authentication']);
      const bindings = (await call(b, 'GET', `/flows/bindings/?target=${flow.pk}&ordering=order`)).body.results;
      assert.deepEqual(
        bindings.map((x: { order: number; stage_obj: { name: string } }) => [x.order, x.stage_obj.name]),
        [
          [10, 'portable-identification'],
          [20, 'portable-password'],
          [30, 'portable-prompt'],
          [40, 'portable-login'],
        ],
      );
      const login = (await call(b, 'GET', '/stages/user_login/?name=portable-login')).body.results[0];
      assert.equal(login.session_duration, 'hours=2');
      const promptStage = (await call(b, 'GET', '/stages/prompt/stages/?name=portable-prompt')).body.results[0];
      const prompt = (await call(b, 'GET', `/stages/prompt/prompts/${promptStage.fields[0]}/`)).body;
      assert.deepEqual(
        [prompt.name, prompt.field_key, prompt.placeholder, prompt.required],
        ['portable-nickname', 'nickname', 'Your nickname', true],
      );
      const check = (await call(b, 'GET', `/policies/expression/${promptStage.validation_policies[0]}/`)).body;
      assert.equal(check.name, 'portable-nickname-check');
      const onFlow = (await call(b, 'GET', `/policies/bindings/?target=${flow.policybindingmodel_ptr_id}`)).body.results;
      assert.deepEqual(
        onFlow.map((p: { order: number; policy_obj: { name: string } }) => [p.order, p.policy_obj.name]),
        [[0, 'portable-always']],
      );
      const onPassword = (await call(b, 'GET', `/policies/bindings/?target=${bindings[1].policybindingmodel_ptr_id}`)).body.results;
      assert.deepEqual(
        onPassword.map((p: { order: number }) => p.order),
        [5],
      );

      // the imported flow works: identification, password, the prompt (its validation policy), login
      await createUser(b, 'portable-person', 'portable-pass-1');
      const browser = new Browser(b.api);
      await browser.get('portable-login');
      await browser.solve('portable-login', { component: 'ak-stage-identification', uidField: 'portable-person' });
      const prompted = await browser.solve('portable-login', { component: 'ak-stage-password', password: 'portable-pass-1' });
      assert.equal(prompted.body.component, 'ak-stage-prompt', JSON.stringify(prompted.body));
      const refused = await browser.solve('portable-login', { component: 'ak-stage-prompt', nickname: 'nope' } as never);
      assert.equal(refused.body.component, 'ak-stage-prompt');
      const done = await browser.solve('portable-login', { component: 'ak-stage-prompt', nickname: 'Porty' } as never);
      assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      assert.equal((await browser.me()).body.user.username, 'portable-person');
    });

    it('applying a file again updates what it names and adds nothing; the audit log shows what was written', async () => {
      const text = await exported(a, 'default-authentication-flow');
      const counts = async () =>
        Promise.all(
          ['/flows/instances/', '/stages/all/', '/flows/bindings/', '/policies/bindings/', '/policies/all/'].map((p) => count(a, p)),
        );
      const before = await counts();
      const changed = text.replace('title: Welcome to Keystage!', 'title: Imported welcome');
      assert.notEqual(changed, text);
      const r = await upload(a, changed);
      assert.equal(r.body.success, true, JSON.stringify(r.body.logs));
      assert.ok(events(r).includes('Updated model'));
      assert.ok(!events(r).includes('Created model'));
      assert.deepEqual(await counts(), before);
      assert.equal((await call(a, 'GET', '/flows/instances/default-authentication-flow/')).body.title, 'Imported welcome');
      const audit = (await call(a, 'GET', '/events/events/?action=model_updated&page_size=100')).body.results;
      assert.ok(audit.some((e: { context: { model: { model_name: string } } }) => e.context.model.model_name === 'flow'));
    });

    it("authentik's kind of file for the default login: bindings found by their orders, another file it names skipped when missing", async () => {
      const flow = (await call(a, 'GET', '/flows/instances/default-authentication-flow/')).body;
      const before = (await call(a, 'GET', `/flows/bindings/?target=${flow.pk}&ordering=order`)).body.results;
      assert.deepEqual(
        before.map((b: { order: number; stage_obj: { name: string } }) => [b.order, b.stage_obj.name]),
        [
          [10, 'default-authentication-identification'],
          [20, 'default-authentication-password'],
          [30, 'default-authentication-mfa-validation'],
          [100, 'default-authentication-login'],
        ],
      );
      const text = `
version: 1
metadata: { name: login with a second factor unless an app password }
entries:
  - model: authentik_blueprints.metaapplyblueprint
    attrs: { identifiers: { name: Some other file }, required: false }
  - model: authentik_flows.flow
    id: flow
    identifiers: { slug: default-authentication-flow }
    attrs: { designation: authentication, name: Login, title: Login }
  - model: authentik_stages_authenticator_validate.authenticatorvalidatestage
    id: mfa
    identifiers: { name: default-authentication-mfa-validation }
  - model: authentik_stages_user_login.userloginstage
    id: login
    identifiers: { name: default-authentication-login }
  - model: authentik_policies_expression.expressionpolicy
    id: not-app-password
    identifiers: { name: not-an-app-password }
    attrs: { expression: 'return context.get("auth_method") != "app_password"' }
  - model: authentik_flows.flowstagebinding
    id: mfa-binding
    identifiers: { target: !KeyOf flow, stage: !KeyOf mfa, order: 30 }
    attrs: { re_evaluate_policies: true }
  - model: authentik_flows.flowstagebinding
    identifiers: { target: !KeyOf flow, stage: !KeyOf login, order: 100 }
  - model: authentik_policies.policybinding
    identifiers: { policy: !KeyOf not-app-password, target: !KeyOf mfa-binding, order: 0 }
`;
      const r = await upload(a, text);
      assert.equal(r.body.success, true, JSON.stringify(r.body.logs));
      assert.ok(events(r).includes('Blueprint does not exist, but not required'));
      const after = (await call(a, 'GET', `/flows/bindings/?target=${flow.pk}&ordering=order`)).body.results;
      assert.deepEqual(
        after.map((b: { pk: string }) => b.pk),
        before.map((b: { pk: string }) => b.pk),
      );
      const onMfa = (await call(a, 'GET', `/policies/bindings/?target=${after[2].policybindingmodel_ptr_id}`)).body.results;
      assert.ok(onMfa.some((p: { policy_obj: { name: string } }) => p.policy_obj.name === 'not-an-app-password'));
      const required = await upload(
        a,
        'version: 1\nentries:\n  - model: authentik_blueprints.metaapplyblueprint\n    attrs: { identifiers: { path: x.yaml } }\n',
      );
      assert.equal(required.body.success, false);
      assert.ok(events(required).includes('Entry invalid: identifiers: Required blueprint does not exist'));
    });

    it('identifiers and !Find name what authentik matches: a binding by its target and group, a scope mapping by managed', async () => {
      const text = (order: number) =>
        [
          'version: 1',
          'entries:',
          '  - model: authentik_core.group',
          '    id: staff',
          '    identifiers: {name: bp-staff}',
          '  - model: authentik_core.application',
          '    id: app',
          '    identifiers: {slug: bp-restricted}',
          '    attrs: {name: BP restricted}',
          '  - model: authentik_policies.policybinding',
          '    identifiers: {target: !KeyOf app, group: !KeyOf staff}',
          `    attrs: {order: ${order}}`,
          '  - model: authentik_providers_oauth2.oauth2provider',
          '    identifiers: {name: bp-oidc}',
          '    attrs:',
          '      authorization_flow: !Find [authentik_flows.flow, [slug, default-provider-authorization-implicit-consent]]',
          '      invalidation_flow: !Find [authentik_flows.flow, [slug, default-provider-invalidation-flow]]',
          '      redirect_uris: [{matching_mode: strict, url: "https://bp.example/cb"}]',
          '      property_mappings:',
          '        - !Find [authentik_providers_oauth2.scopemapping, [managed, goauthentik.io/providers/oauth2/scope-openid]]',
          '',
        ].join('\n');
      const first = await upload(a, text(3));
      assert.equal(first.body.success, true, JSON.stringify(first.body.logs));
      const again = await upload(a, text(7));
      assert.equal(again.body.success, true, JSON.stringify(again.body.logs));
      const app = (await call(a, 'GET', '/core/applications/bp-restricted/')).body;
      const bindings = (await call(a, 'GET', `/policies/bindings/?target=${app.pk}`)).body.results;
      assert.deepEqual(
        bindings.map((b: { order: number; group_obj: { name: string } }) => [b.order, b.group_obj.name]),
        [[7, 'bp-staff']],
        'found again by target and group: updated, not added',
      );
      const provider = (await call(a, 'GET', '/providers/oauth2/?name=bp-oidc')).body.results[0];
      const openid = (await call(a, 'GET', '/propertymappings/provider/scope/?managed=goauthentik.io/providers/oauth2/scope-openid')).body
        .results[0];
      assert.deepEqual(provider.property_mappings, [openid.pk]);
    });

    it("a role's permissions (a blueprint field, as authentik's): assigned; one Keystage does not have is left out, logged", async () => {
      const text = [
        'version: 1',
        'entries:',
        '  - model: authentik_rbac.role',
        '    identifiers: {name: bp-read-only}',
        '    attrs:',
        '      permissions: [authentik_core.view_user, authentik_flows.view_flow, authentik_outposts.view_outpost]',
        '',
      ].join('\n');
      const r = await upload(a, text);
      assert.equal(r.body.success, true, JSON.stringify(r.body.logs));
      assert.ok(
        r.body.logs.some(
          (l: { event: string; log_level: string }) =>
            l.event === 'Permission not known to Keystage, left out: authentik_outposts.view_outpost' && l.log_level === 'warning',
        ),
      );
      const role = (await call(a, 'GET', '/rbac/roles/?name=bp-read-only')).body.results[0];
      const perms = (await call(a, 'GET', `/rbac/permissions/?role=${role.pk}`)).body.results.map(
        (p: { app_label: string; codename: string }) => `${p.app_label}.${p.codename}`,
      );
      assert.deepEqual(perms.sort(), ['authentik_core.view_user', 'authentik_flows.view_flow']);
      // not a list: the entry is invalid, nothing written
      const bad = await upload(
        a,
        text
          .replace('permissions: [authentik_core.view_user, authentik_flows.view_flow, authentik_outposts.view_outpost]', 'permissions: 5')
          .replace('bp-read-only', 'bp-bad-role'),
      );
      assert.equal(bad.body.success, false);
      assert.equal((await call(a, 'GET', '/rbac/roles/?name=bp-bad-role')).body.results.length, 0);
    });

    it('one invalid entry: nothing written, the log says which and why', async () => {
      const text = `
version: 1
entries:
  - model: authentik_flows.flow
    id: f
    identifiers: { slug: half-written }
    attrs: { name: Half, title: Half, designation: authentication }
  - model: authentik_stages_dummy.dummystage
    identifiers: { name: half-written-stage }
    attrs: { throw_error: "not a boolean" }
`;
      const r = await upload(a, text);
      assert.equal(r.status, 200);
      assert.equal(r.body.success, false);
      const warning = r.body.logs.find((l: { log_level: string }) => l.log_level === 'warning');
      assert.match(warning.event, /^Entry invalid: Serializer errors .*throw_error.*Must be a valid boolean/);
      assert.equal(warning.attributes.entry.model, 'authentik_stages_dummy.dummystage');
      assert.equal((await call(a, 'GET', '/flows/instances/half-written/')).status, 404);
      assert.equal((await call(a, 'GET', '/stages/dummy/?name=half-written-stage')).body.results.length, 0);
    });

    it("authentik's tags: KeyOf, Find, FindObject, Context, Format, If, Condition, Enumerate, AtIndex, ParseJSON; conditions", async () => {
      const text = `
version: 1
context:
  prefix: tagged
  enrol: true
entries:
  - model: authentik_flows.flow
    id: tagged-flow
    identifiers:
      slug: !Format ["%s-flow", !Context prefix]
    attrs:
      name: !Format ["%s flow (%d)", !Context prefix, 2]
      title: !If [!Condition [AND, !Context enrol, !Context [missing, true]], "Enrol", "No"]
      designation: !AtIndex [[authentication, enrollment], !If [!Context enrol, 1, 0]]
      layout: !AtIndex [{ a: stacked }, b, sidebar_left]
  - model: authentik_stages_dummy.dummystage
    id: tagged-stage
    identifiers: { name: !Format ["%s-stage", !Context prefix] }
    attrs: { throw_error: !ParseJSON "false" }
  - model: authentik_flows.flowstagebinding
    identifiers:
      target: !KeyOf tagged-flow
      stage: !Find [authentik_stages_dummy.dummystage, [name, tagged-stage]]
      order: 10
  - model: authentik_stages_prompt.prompt
    identifiers: { name: tagged-prompt }
    attrs:
      field_key: !Format ["%s", !AtIndex [!FindObject [authentik_flows.flow, [slug, tagged-flow]], title]]
      label: !Format ["%s", !Enumerate [[a, b], SEQ, !Format ["%s=%s", !Index 0, !Value 0]]]
      type: text
      placeholder: !Format ["%s", !Enumerate [{ x: 1 }, MAP, [!Index 0, !Value 0]]]
  - model: authentik_stages_dummy.dummystage
    conditions: [!Context missing, true]
    identifiers: { name: tagged-skipped }
`;
      const r = await upload(a, text, { context: JSON.stringify({ prefix: 'tagged' }) });
      assert.equal(r.body.success, true, JSON.stringify(r.body.logs));
      const flow = (await call(a, 'GET', '/flows/instances/tagged-flow/')).body;
      assert.deepEqual([flow.name, flow.title, flow.designation, flow.layout], ['tagged flow (2)', 'Enrol', 'enrollment', 'sidebar_left']);
      const bound = (await call(a, 'GET', `/flows/bindings/?target=${flow.pk}`)).body.results;
      assert.deepEqual(
        bound.map((x: { stage_obj: { name: string } }) => x.stage_obj.name),
        ['tagged-stage'],
      );
      const prompt = (await call(a, 'GET', '/stages/prompt/prompts/?name=tagged-prompt')).body.results[0];
      assert.deepEqual([prompt.field_key, prompt.label, prompt.placeholder], ['Enrol', "['0=a', '1=b']", "{'x': 1}"]);
      assert.equal((await call(a, 'GET', '/stages/dummy/?name=tagged-skipped')).body.results.length, 0);
      assert.ok(events(r).includes('One or more conditions of this entry are not fulfilled, skipping'));
    });

    it('states: created leaves an object as it is, must_created refuses it, absent deletes it', async () => {
      const stage = (state: string, extra = '') => `
version: 1
entries:
  - model: authentik_stages_dummy.dummystage
    state: ${state}
    identifiers: { name: stateful }
    attrs: { throw_error: false${extra} }
`;
      assert.equal((await upload(a, stage('created'))).body.success, true);
      const made = (await call(a, 'GET', '/stages/dummy/?name=stateful')).body.results[0];
      assert.equal(made.throw_error, false);
      const kept = await upload(a, stage('created').replace('throw_error: false', 'throw_error: true'));
      assert.equal(kept.body.success, true);
      assert.ok(events(kept).includes('Instance exists, skipping'));
      assert.equal((await call(a, 'GET', `/stages/dummy/${made.pk}/`)).body.throw_error, false);
      const must = await upload(a, stage('must_created'));
      assert.equal(must.body.success, false);
      assert.ok(events(must).some((e) => e.includes('State is set to must_created and object exists already')));
      const gone = await upload(a, stage('absent'));
      assert.equal(gone.body.success, true);
      assert.equal((await call(a, 'GET', `/stages/dummy/${made.pk}/`)).status, 404);
      assert.equal((await upload(a, stage('absent'))).body.success, true); // nothing to delete
      const bad = await upload(a, stage('sideways'));
      assert.equal(bad.body.success, false);
      assert.match(events(bad)[0]!, /'sideways' is not a valid BlueprintEntryDesiredState/);
    });

    it('refused: !Env and !File, unknown tags and models, another version, no file, a context that is not JSON', async () => {
      const env = await upload(
        a,
        'version: 1\nentries:\n  - model: authentik_stages_dummy.dummystage\n    identifiers: { name: !Env KEYSTAGE_SECRET_KEY }\n',
      );
      assert.equal(env.body.success, false);
      assert.ok(
        events(env).some((e) =>
          e.includes("!Env is allowed only in blueprint files from the blueprints folder: it would read the server's environment"),
        ),
      );
      const file = await upload(
        a,
        'version: 1\nentries:\n  - model: authentik_stages_dummy.dummystage\n    identifiers: { name: !File [/etc/passwd, x] }\n',
      );
      assert.equal(file.body.success, false);
      assert.ok(events(file).some((e) => e.includes('!File is allowed only in blueprint files')));
      const tag = await upload(a, 'version: 1\nentries:\n  - model: !Nope x\n');
      assert.deepEqual([tag.status, tag.body.success], [200, false]);
      assert.match(events(tag)[0]!, /^Invalid blueprint: Unresolved tag: !Nope/);
      const model = await upload(a, 'version: 1\nentries:\n  - model: authentik_core.nothing\n    identifiers: { name: x }\n');
      assert.equal(model.body.success, false);
      assert.ok(
        events(model).some((e) => e.includes("App 'authentik_core' doesn't have a 'nothing' model.")),
        JSON.stringify(events(model)),
      );
      const app = await upload(a, 'version: 1\nentries:\n  - model: nowhere.nothing\n    identifiers: { name: x }\n');
      assert.ok(
        events(app).some((e) => e.includes("No installed app with label 'nowhere'.")),
        JSON.stringify(events(app)),
      );
      // identifiers of the wrong type are the entry's error, not the database's
      const userPk = await upload(
        a,
        'version: 1\nentries:\n  - model: authentik_core.user\n    identifiers: { pk: abc }\n    attrs: { name: x }\n',
      );
      assert.deepEqual([userPk.status, userPk.body.success], [200, false]);
      assert.ok(
        events(userPk).some((e) => e.includes("Field 'pk' expected a number but got 'abc'.")),
        JSON.stringify(events(userPk)),
      );
      const order = await upload(
        a,
        'version: 1\nentries:\n  - model: authentik_flows.flowstagebinding\n    identifiers: { order: ten, evaluate_on_plan: true }\n',
      );
      assert.ok(
        events(order).some((e) => e.includes("Field 'order' expected a number but got 'ten'.")),
        JSON.stringify(events(order)),
      );
      const flag = await upload(
        a,
        'version: 1\nentries:\n  - model: authentik_flows.flowstagebinding\n    state: absent\n    identifiers: { evaluate_on_plan: true, order: 12345 }\n',
      );
      assert.equal(flag.body.success, true, JSON.stringify(events(flag)));
      const version = await upload(a, 'version: 2\nentries: []\n');
      assert.deepEqual([version.body.success, events(version)], [false, ['Invalid blueprint version']]);
      const yaml = await upload(a, 'version: 1\nentries: [\n');
      assert.equal(yaml.body.success, false);
      const none = await upload(a, undefined);
      assert.deepEqual([none.status, none.body], [400, { logs: [], success: false }]);
      const context = await upload(a, 'version: 1\nentries: []\n', { context: '{not json' });
      assert.deepEqual([context.status, context.body], [400, { context: ['Value must be valid JSON.'] }]);
      const path = await upload(a, undefined, { path: 'default/flow-default-authentication-flow.yaml' });
      assert.deepEqual([path.status, path.body], [400, { path: ['Blueprint file does not exist'] }]);
      const garbled = await fetch(`${a.api}/managed/blueprints/import/`, {
        method: 'POST',
        headers: { authorization: `Bearer ${a.token}`, 'content-type': 'multipart/form-data; boundary=zzz' },
        body: 'not multipart at all',
      });
      assert.equal(garbled.status, 400);
    });

    it("permissions: the import needs add_blueprintinstance, and each entry's model add, change and delete", async () => {
      const user = await createPlainUser(a, 'bp-worker');
      const token = await tokenFor(a, user, 'bp-worker-key-0123456789abcdefghijklmnop');
      const role = (await call(a, 'POST', '/rbac/roles/', { name: 'blueprints' })).body.pk;
      assert.equal((await call(a, 'POST', `/rbac/roles/${role}/add_user/`, { pk: user })).status, 204);
      const grant = async (permissions: string[]) =>
        assert.equal((await call(a, 'POST', `/rbac/permissions/assigned_by_roles/${role}/assign/`, { permissions })).status, 200);
      const text =
        'version: 1\nentries:\n  - model: authentik_stages_dummy.dummystage\n    id: dummy\n    identifiers: { name: by-worker }\n';
      const denied = await upload(a, text, {}, token);
      assert.deepEqual([denied.status, denied.body], [403, { detail: 'You do not have permission to perform this action.' }]);
      await grant([
        'authentik_blueprints.add_blueprintinstance',
        'authentik_stages_dummy.add_dummystage',
        'authentik_stages_dummy.change_dummystage',
      ]);
      const partly = await upload(a, text, {}, token);
      assert.deepEqual([partly.status, partly.body], [403, { dummy: 'User lacks permission to create authentik_stages_dummy.dummystage' }]);
      await grant(['authentik_stages_dummy.delete_dummystage']);
      const ok = await upload(a, text, {}, token);
      assert.equal(ok.body.success, true, JSON.stringify(ok.body));
      // what a tag finds must be a model the caller may view (it could be read back through the object written)
      const finder = await upload(
        a,
        'version: 1\nentries:\n  - model: authentik_stages_dummy.dummystage\n    identifiers: { name: !Format ["%s", !FindObject [authentik_core.user, [username, akadmin]]] }\n',
        {},
        token,
      );
      assert.equal(finder.body.success, false);
      assert.ok(events(finder).some((e) => e.includes('User lacks permission to view authentik_core.user')));
      // a model named by a tag is checked when the importer reaches it
      const tagged = await upload(
        a,
        'version: 1\nentries:\n  - model: !Format ["%s", authentik_flows.flow]\n    identifiers: { slug: by-worker }\n',
        {},
        token,
      );
      assert.equal(tagged.body.success, false);
      assert.ok(events(tagged).some((e) => e.includes('User lacks permission to create authentik_flows.flow')));
      assert.equal((await callAs(a, token, 'GET', '/stages/dummy/?name=by-worker')).status, 403);
      assert.equal((await call(a, 'GET', '/stages/dummy/?name=by-worker')).body.results.length, 1);
    });

    it('blueprint instances: kept, checked when saved, applied when enabled, with the outcome recorded', async () => {
      const managed = new ManagedApi(new Configuration({ basePath: a.api, accessToken: a.token }));
      const content =
        'version: 1\nmetadata: { name: kept }\nentries:\n  - model: authentik_stages_dummy.dummystage\n    identifiers: { name: !Format ["%s-dummy", !Context who] }\n';
      const bad = await call(a, 'POST', '/managed/blueprints/', {
        name: 'broken',
        content: 'version: 1\nentries:\n  - model: nowhere.x\n    identifiers: { a: 1 }\n',
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.content[0], 'Failed to validate blueprint');
      assert.deepEqual((await call(a, 'POST', '/managed/blueprints/', { name: 'empty' })).body, {
        non_field_errors: ['Either path or content must be set.'],
      });
      const made = await call(a, 'POST', '/managed/blueprints/', { name: 'kept', content, context: { who: 'instance' }, enabled: false });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assertMatches('BlueprintInstance', made.body);
      assert.deepEqual(
        [made.body.status, made.body.enabled, made.body.managed_models, made.body.last_applied_hash],
        ['unknown', false, [], ''],
      );
      // checking it wrote nothing
      assert.equal((await call(a, 'GET', '/stages/dummy/?name=instance-dummy')).body.results.length, 0);
      const disabled = await managed.managedBlueprintsApplyCreate({ instanceUuid: made.body.pk });
      assert.equal(disabled.status, 'unknown');
      assert.equal((await call(a, 'GET', '/stages/dummy/?name=instance-dummy')).body.results.length, 0);
      assert.equal((await call(a, 'PATCH', `/managed/blueprints/${made.body.pk}/`, { enabled: true })).status, 200);
      const applied = (await call(a, 'POST', `/managed/blueprints/${made.body.pk}/apply/`)).body;
      assert.deepEqual(
        [applied.status, applied.managed_models, applied.metadata],
        ['successful', ['authentik_stages_dummy.dummystage'], { name: 'kept', labels: {} }],
      );
      assert.equal(applied.last_applied_hash.length, 128);
      assert.equal((await call(a, 'GET', '/stages/dummy/?name=instance-dummy')).body.results.length, 1);
      assert.deepEqual(await managed.managedBlueprintsAvailableList(), []);
      const list = (await call(a, 'GET', '/managed/blueprints/?search=kept')).body;
      assertMatches('PaginatedBlueprintInstanceList', list);
      assert.deepEqual(
        list.results.map((i: { name: string }) => i.name),
        ['kept'],
      );
      assert.equal((await call(a, 'DELETE', `/managed/blueprints/${made.body.pk}/`)).status, 204);
    });
  });
}
