/**
 * The four founding documents (shared/seeds/: authentik 2024.12 API pages), their requests sent verbatim as raw
 * HTTP — including the pages' `/api/v3//stages/…` paths and their writable `flow_set` — get the documented status.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';

const EXAMPLE_UUID = '3fa85f64-5717-4562-b3fc-2c963f66afa6';
const FLOW_SET = [
  {
    name: 'string',
    slug: 'string',
    title: 'string',
    designation: 'authentication',
    policy_engine_mode: 'all',
    compatibility_mode: true,
    layout: 'stacked',
    denied_action: 'message_continue',
  },
];
/** stages_captcha_create, as the page's request sample sends it */
const CAPTCHA_BODY =
  '{\n "name": "string",\n "flow_set": [\n {\n "name": "string",\n "slug": "string",\n "title": "string",\n "designation": "authentication",\n "policy_engine_mode": "all",\n "compatibility_mode": true,\n "layout": "stacked",\n "denied_action": "message_continue"\n }\n ],\n "public_key": "string",\n "private_key": "string",\n "js_url": "string",\n "api_url": "string",\n "interactive": true,\n "score_min_threshold": 0,\n "score_max_threshold": 0,\n "error_on_invalid_score": true\n}';
/** stages_identification_create, as the page's request sample sends it */
const IDENTIFICATION_BODY = `{\n "name": "string",\n "flow_set": [\n {\n "name": "string",\n "slug": "string",\n "title": "string",\n "designation": "authentication",\n "policy_engine_mode": "all",\n "compatibility_mode": true,\n "layout": "stacked",\n "denied_action": "message_continue"\n }\n ],\n "user_fields": [\n "email"\n ],\n "password_stage": "${EXAMPLE_UUID}",\n "captcha_stage": "${EXAMPLE_UUID}",\n "case_insensitive_matching": true,\n "show_matched_user": true,\n "enrollment_flow": "${EXAMPLE_UUID}",\n "recovery_flow": "${EXAMPLE_UUID}",\n "passwordless_flow": "${EXAMPLE_UUID}",\n "sources": [\n "${EXAMPLE_UUID}"\n ],\n "show_source_labels": true,\n "pretend_user_exists": true\n}`;

async function raw(srv: TestServer, method: string, path: string, body?: string) {
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: { Accept: 'application/json', Authorization: `Bearer ${srv.token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const counts = async (srv: TestServer) => ({
  stages: Number(
    (
      await srv.app.store.db
        .selectFrom('stages')
        .select((eb) => eb.fn.countAll<number>().as('c'))
        .executeTakeFirstOrThrow()
    ).c,
  ),
  flows: Number(
    (
      await srv.app.store.db
        .selectFrom('flows')
        .select((eb) => eb.fn.countAll<number>().as('c'))
        .executeTakeFirstOrThrow()
    ).c,
  ),
  bindings: Number(
    (
      await srv.app.store.db
        .selectFrom('flow_bindings')
        .select((eb) => eb.fn.countAll<number>().as('c'))
        .executeTakeFirstOrThrow()
    ).c,
  ),
});

for (const dialect of dialects()) {
  describe(`seed documents, verbatim (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv.close());

    it('stages_captcha_create: 201, flow_set creates the flow "string" and binds the stage to it', async () => {
      const r = await raw(srv, 'POST', '/api/v3//stages/captcha/', CAPTCHA_BODY);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.name, 'string');
      assert.equal(r.body.public_key, 'string');
      assert.equal('private_key' in r.body, false, 'the private key is never returned');
      assert.equal(r.body.interactive, true);
      assert.equal(r.body.score_max_threshold, 0);
      assert.equal(r.body.component, 'ak-stage-captcha-form');
      assert.equal(r.body.flow_set.length, 1);
      assert.equal(r.body.flow_set[0].slug, 'string');
      assert.equal(r.body.flow_set[0].policy_engine_mode, 'all');
      assert.equal(r.body.flow_set[0].compatibility_mode, true);
      const flow = await call(srv, 'GET', '/flows/instances/string/');
      assert.equal(flow.status, 200);
      assert.deepEqual(flow.body.stages, [r.body.pk]);
      // sending it again (another name) binds to the existing flow instead of creating a second one
      const again = await raw(
        srv,
        'POST',
        '/api/v3/stages/captcha/',
        CAPTCHA_BODY.replace('"name": "string",\n "flow_set"', '"name": "string-2",\n "flow_set"'),
      );
      assert.equal(again.status, 201);
      assert.equal((await call(srv, 'GET', '/flows/instances/?slug=string')).body.pagination.count, 1);
      const bindings = await call(srv, 'GET', `/flows/bindings/?target=${flow.body.pk}&ordering=order`);
      assert.deepEqual(
        bindings.body.results.map((b: { stage: string; order: number }) => [b.stage, b.order]),
        [
          [r.body.pk, 10],
          [again.body.pk, 20],
        ],
      );
    });

    it('stages_identification_create: the example UUIDs do not exist → 400 naming each field, nothing written', async () => {
      const before = await counts(srv);
      const r = await raw(srv, 'POST', '/api/v3//stages/identification/', IDENTIFICATION_BODY);
      assert.equal(r.status, 400);
      const missing = `Invalid pk "${EXAMPLE_UUID}" - object does not exist.`;
      for (const f of ['password_stage', 'captcha_stage', 'enrollment_flow', 'recovery_flow', 'passwordless_flow', 'sources'])
        assert.deepEqual(r.body[f], [missing], f);
      assert.deepEqual(await counts(srv), before);
    });

    it('stages_identification_create with existing references: 201 with every field', async () => {
      const pw = await call(srv, 'POST', '/stages/password/', { name: 'seed-password', backends: ['authentik.core.auth.InbuiltBackend'] });
      const cap = await call(srv, 'GET', '/stages/captcha/?name=string');
      const flow = await call(srv, 'GET', '/flows/instances/string/');
      const body = JSON.parse(IDENTIFICATION_BODY);
      body.name = 'seed-identification';
      body.password_stage = pw.body.pk;
      body.captcha_stage = cap.body.results[0].pk;
      body.enrollment_flow = body.recovery_flow = body.passwordless_flow = flow.body.pk;
      body.sources = [];
      const r = await raw(srv, 'POST', '/api/v3//stages/identification/', JSON.stringify(body));
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.deepEqual(r.body.user_fields, ['email']);
      assert.equal(r.body.password_stage, pw.body.pk);
      assert.equal(r.body.show_source_labels, true);
      assert.equal(r.body.enable_remember_me, false, 'a field added after 2024.12 gets its default');
      assert.equal(r.body.flow_set[0].slug, 'string');
    });

    it('stages_authenticator_validate_create: documented body; bad values → 400, valid → 201 with flow_set', async () => {
      const bad = await raw(
        srv,
        'POST',
        '/api/v3/stages/authenticator/validate/',
        JSON.stringify({
          name: 'string-validate',
          flow_set: FLOW_SET,
          not_configured_action: 'skip',
          device_classes: ['static'],
          configuration_stages: [EXAMPLE_UUID],
          last_auth_threshold: 'string',
          webauthn_user_verification: 'required',
        }),
      );
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body.last_auth_threshold, ["string is not in the correct format of 'hours=3;minutes=1'."]);
      assert.deepEqual(bad.body.configuration_stages, [`Invalid pk "${EXAMPLE_UUID}" - object does not exist.`]);
      const ok = await raw(
        srv,
        'POST',
        '/api/v3/stages/authenticator/validate/',
        JSON.stringify({
          name: 'string-validate',
          flow_set: FLOW_SET,
          not_configured_action: 'skip',
          device_classes: ['static', 'totp', 'webauthn', 'duo', 'sms'],
          configuration_stages: [],
          last_auth_threshold: 'hours=1',
          webauthn_user_verification: 'required',
        }),
      );
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      assert.deepEqual(ok.body.device_classes, ['static', 'totp', 'webauthn', 'duo', 'sms']);
      assert.equal(ok.body.last_auth_threshold, 'hours=1');
      assert.equal(ok.body.flow_set[0].slug, 'string');
      assert.equal(ok.body.email_otp_throttling_factor, 1);
    });

    it('stages_identification_list: 200 with pagination; every documented query parameter works', async () => {
      const flow = (await call(srv, 'GET', '/flows/instances/string/')).body.pk;
      const r = await raw(
        srv,
        'GET',
        `/api/v3//stages/identification/?case_insensitive_matching=true&enrollment_flow=${flow}&name=seed-identification&ordering=name&page=1&page_size=20&search=seed&show_matched_user=true&show_source_labels=true`,
      );
      assert.equal(r.status, 200);
      assert.deepEqual(Object.keys(r.body).sort(), ['autocomplete', 'pagination', 'results']);
      assert.deepEqual(r.body.pagination, { next: 0, previous: 0, count: 1, current: 1, total_pages: 1, start_index: 1, end_index: 1 });
      assert.equal(r.body.results[0].name, 'seed-identification');
      const none = await raw(srv, 'GET', `/api/v3/stages/identification/?password_stage=${EXAMPLE_UUID}`);
      assert.equal(none.status, 400);
      assert.deepEqual(none.body, { password_stage: ['Select a valid choice. That choice is not one of the available choices.'] });
    });

    it('an invalid flow_set entry is a 400 on that entry and writes nothing', async () => {
      const before = await counts(srv);
      const r = await call(srv, 'POST', '/stages/deny/', {
        name: 'flowset-bad',
        flow_set: [
          { name: 'ok', slug: 'fine-slug', title: 'ok', designation: 'authentication' },
          { name: 'x', slug: 'not a slug', title: 'x', designation: 'nope' },
        ],
      });
      assert.equal(r.status, 400);
      assert.deepEqual(r.body.flow_set[0], {});
      assert.deepEqual(r.body.flow_set[1].slug, ['Enter a valid “slug” consisting of letters, numbers, underscores or hyphens.']);
      assert.deepEqual(r.body.flow_set[1].designation, ['"nope" is not a valid choice.']);
      assert.deepEqual(await counts(srv), before);
    });
  });
}
