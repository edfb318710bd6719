/**
 * Bad input never produces a 500 and never writes anything: wrong JSON types, unknown enum values, malformed and
 * non-existent UUIDs, over-long and invalid slugs, non-JSON bodies, bodies over 1 MiB, huge arrays.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';

const MISSING = '00000000-0000-4000-8000-000000000000';

async function rowCount(srv: TestServer): Promise<number> {
  let n = 0;
  for (const t of ['stages', 'flows', 'flow_bindings', 'users', 'tokens'] as const)
    n += Number(
      (
        await srv.app.store.db
          .selectFrom(t as 'stages')
          .select((eb) => eb.fn.countAll<number>().as('c'))
          .executeTakeFirstOrThrow()
      ).c,
    );
  return n;
}

for (const dialect of dialects()) {
  describe(`bad input (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv.close());

    /** sends a body that must be refused with `expected` (status and body), and checks nothing was written */
    async function refused(
      method: string,
      path: string,
      payload: unknown,
      expected: { status: number; body?: unknown },
      headers?: Record<string, string>,
    ) {
      const before = await rowCount(srv);
      const r = await call(srv, method, path, payload, headers);
      assert.equal(
        r.status,
        expected.status,
        `${method} ${path} ${JSON.stringify(payload).slice(0, 120)} → ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`,
      );
      if (expected.body !== undefined) assert.deepEqual(r.body, expected.body);
      assert.equal(await rowCount(srv), before, 'nothing written');
    }

    it('wrong JSON types get DRF field messages', async () => {
      await refused(
        'POST',
        '/stages/identification/',
        { name: 'x', user_fields: 'username', case_insensitive_matching: 'maybe', show_matched_user: [] },
        {
          status: 400,
          body: {
            user_fields: ['Expected a list of items but got type "str".'],
            case_insensitive_matching: ['Must be a valid boolean.'],
            show_matched_user: ['Must be a valid boolean.'],
          },
        },
      );
      await refused(
        'POST',
        '/stages/captcha/',
        { name: { a: 1 }, public_key: 'p', private_key: 'k', score_min_threshold: 'high' },
        {
          status: 400,
          body: { name: ['Not a valid string.'], score_min_threshold: ['A valid number is required.'] },
        },
      );
      await refused(
        'POST',
        '/stages/password/',
        { name: 'p', backends: ['authentik.core.auth.InbuiltBackend'], failed_attempts_before_cancel: [1] },
        {
          status: 400,
          body: { failed_attempts_before_cancel: ['A valid integer is required.'] },
        },
      );
      await refused(
        'POST',
        '/flows/bindings/',
        { target: true, stage: 5, order: 1.5 },
        {
          status: 400,
          body: {
            target: ['Incorrect type. Expected pk value, received bool.'],
            stage: ['Incorrect type. Expected pk value, received int.'],
            order: ['A valid integer is required.'],
          },
        },
      );
      await refused('POST', '/stages/deny/', { name: null }, { status: 400, body: { name: ['This field may not be null.'] } });
      await refused('POST', '/stages/deny/', { name: '   ' }, { status: 400, body: { name: ['This field may not be blank.'] } });
      await refused('POST', '/stages/deny/', {}, { status: 400, body: { name: ['This field is required.'] } });
    });

    it('unknown enum values, list items by index', async () => {
      await refused(
        'POST',
        '/stages/authenticator/validate/',
        { name: 'v', device_classes: ['totp', 'carrier-pigeon'], not_configured_action: 'panic' },
        {
          status: 400,
          body: {
            device_classes: { '1': ['"carrier-pigeon" is not a valid choice.'] },
            not_configured_action: ['"panic" is not a valid choice.'],
          },
        },
      );
      await refused(
        'POST',
        '/flows/instances/',
        { name: 'f', slug: 'f', title: 'f', designation: 'everything', layout: 'circle' },
        {
          status: 400,
          body: { designation: ['"everything" is not a valid choice.'], layout: ['"circle" is not a valid choice.'] },
        },
      );
      await refused(
        'POST',
        '/stages/authenticator/validate/',
        { name: 'v', device_classes: [] },
        { status: 400, body: { device_classes: ['This list may not be empty.'] } },
      );
    });

    it('malformed and non-existent UUIDs in foreign keys and lists', async () => {
      await refused(
        'POST',
        '/stages/identification/',
        { name: 'i', user_fields: ['username'], password_stage: 'not-a-uuid', captcha_stage: MISSING, sources: [MISSING] },
        {
          status: 400,
          body: {
            password_stage: ['“not-a-uuid” is not a valid UUID.'],
            captcha_stage: [`Invalid pk "${MISSING}" - object does not exist.`],
            sources: [`Invalid pk "${MISSING}" - object does not exist.`],
          },
        },
      );
      // a password stage's uuid given where a captcha stage is expected does not exist as a captcha stage
      const pw = await call(srv, 'POST', '/stages/password/', { name: 'bad-input-pw', backends: ['authentik.core.auth.InbuiltBackend'] });
      await refused(
        'POST',
        '/stages/identification/',
        { name: 'i', user_fields: ['username'], captcha_stage: pw.body.pk },
        {
          status: 400,
          body: { captcha_stage: [`Invalid pk "${pw.body.pk}" - object does not exist.`] },
        },
      );
      await refused(
        'POST',
        '/core/tokens/',
        { identifier: 'tok', user: 999999 },
        { status: 400, body: { user: ['Invalid pk "999999" - object does not exist.'] } },
      );
      assert.deepEqual((await call(srv, 'GET', '/stages/identification/not-a-uuid/')).body, { detail: 'Not found.' });
      assert.deepEqual((await call(srv, 'GET', `/stages/identification/${MISSING}/`)).body, {
        detail: 'No IdentificationStage matches the given query.',
      });
      assert.deepEqual((await call(srv, 'GET', `/stages/identification/?captcha_stage=zzz`)).body, {
        captcha_stage: ['Select a valid choice. That choice is not one of the available choices.'],
      });
      assert.deepEqual((await call(srv, 'GET', `/stages/authenticator/validate/?configuration_stages=${MISSING}`)).body, {
        configuration_stages: [`Select a valid choice. ${MISSING} is not one of the available choices.`],
      });
    });

    it('over-long and invalid slugs and names, bad durations, bad emails', async () => {
      await refused(
        'POST',
        '/flows/instances/',
        { name: 'f', slug: 'ünïcode slug', title: 't', designation: 'authentication' },
        {
          status: 400,
          body: { slug: ['Enter a valid “slug” consisting of letters, numbers, underscores or hyphens.'] },
        },
      );
      await refused(
        'POST',
        '/core/tokens/',
        { identifier: 'x'.repeat(256) },
        { status: 400, body: { identifier: ['Ensure this field has no more than 255 characters.'] } },
      );
      await refused(
        'POST',
        '/core/users/',
        { username: 'u'.repeat(151), name: '' },
        { status: 400, body: { username: ['Ensure this field has no more than 150 characters.'] } },
      );
      await refused(
        'POST',
        '/core/users/',
        { username: 'valid', name: '', email: 'not-an-email' },
        { status: 400, body: { email: ['Enter a valid email address.'] } },
      );
      await refused(
        'POST',
        '/stages/user_login/',
        { name: 'l', session_duration: 'forever', remember_me_offset: 'hours=1;' },
        {
          status: 400,
          body: {
            session_duration: ["forever is not in the correct format of 'hours=3;minutes=1'."],
            remember_me_offset: ["hours=1; is not in the correct format of 'hours=3;minutes=1'."],
          },
        },
      );
      await refused('POST', '/stages/deny/', { name: 'n'.repeat(70_000) }, { status: 400 });
    });

    it('non-JSON bodies: 400 for malformed JSON, 415 for other media types, a JSON array is a non-field error', async () => {
      const before = await rowCount(srv);
      const malformed = await call(srv, 'POST', '/stages/deny/', '{"name": "x",', { 'content-type': 'application/json' });
      assert.equal(malformed.status, 400);
      assert.match(malformed.body.detail, /^JSON parse error - /);
      const text = await call(srv, 'POST', '/stages/deny/', 'name=x', { 'content-type': 'text/plain' });
      assert.deepEqual(text, { status: 415, body: { detail: 'Unsupported media type "text/plain" in request.' }, headers: text.headers });
      const form = await call(srv, 'POST', '/stages/deny/', 'name=x', { 'content-type': 'application/x-www-form-urlencoded' });
      assert.equal(form.status, 415);
      const array = await call(srv, 'POST', '/stages/deny/', '[{"name":"x"}]');
      assert.deepEqual(array.body, { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
      assert.equal(await rowCount(srv), before);
    });

    it('bodies over 1 MiB get 413 with a JSON detail; enormous arrays are refused', async () => {
      const big = JSON.stringify({ name: 'big', deny_message: 'x'.repeat(1024 * 1024 + 10) });
      await refused('POST', '/stages/deny/', big, { status: 413 });
      const r = await call(srv, 'POST', '/stages/deny/', big);
      assert.equal(typeof r.body.detail, 'string');
      await refused(
        'POST',
        '/stages/authenticator/validate/',
        { name: 'v', device_classes: Array(5000).fill('totp') },
        {
          status: 400,
          body: { device_classes: ['Ensure this field has no more than 1000 elements.'] },
        },
      );
    });

    it('unknown paths, missing trailing slash and unsupported methods', async () => {
      assert.equal((await call(srv, 'GET', '/flows/instances')).status, 404);
      assert.equal((await call(srv, 'GET', '/no/such/thing/')).status, 404);
      assert.deepEqual((await call(srv, 'POST', '/stages/all/', { name: 'x' })).body, { detail: 'Method "POST" not allowed.' });
      assert.deepEqual((await call(srv, 'DELETE', '/flows/instances/')).body, { detail: 'Method "DELETE" not allowed.' });
      // unknown ordering names are ignored, not errors
      assert.equal((await call(srv, 'GET', '/stages/all/?ordering=-nonsense,name')).status, 200);
    });
  });
}
