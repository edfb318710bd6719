/**
 * The password policy (/policies/password/): authentik's fields, defaults, messages and filters through the official
 * client and raw HTTP; static rules, zxcvbn and Have I Been Pwned (a fake range API on 127.0.0.1) evaluated through
 * /policies/all/{uuid}/test/.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { PoliciesApi } from '@goauthentik/api/dist/apis/PoliciesApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../helpers/flows.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { body } from '../rest/contract/client.js';
import { FakeHibp, sha1 } from '../helpers/fake-hibp.js';
import { pwnedCount } from '../../src/policies/password/index.js';

for (const dialect of dialects()) {
  describe(`password policy (${dialect})`, () => {
    let srv: TestServer;
    let api: PoliciesApi;
    let hibp: FakeHibp;
    let uid: number;
    before(async () => {
      hibp = await new FakeHibp().start();
      srv = await startServer(dialect, { hibpUrl: hibp.url });
      api = new PoliciesApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      uid = await createUser(srv, 'pw-user', 'pw-user-password-1');
    });
    after(async () => {
      await srv.close();
      await hibp.close();
    });

    const create = async (name: string, extra: Record<string, unknown> = {}) => {
      const r = await call(srv, 'POST', '/policies/password/', { name, ...extra });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.pk as string;
    };
    const test = async (pk: string, context: Record<string, unknown>, user = uid) => {
      const r = await call(srv, 'POST', `/policies/all/${pk}/test/`, { user, context });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body as { passing: boolean; messages: string[] };
    };

    it('REST: authentik’s defaults, update, filters, types (official client)', async () => {
      const created = await body(api.policiesPasswordCreateRaw({ passwordPolicyRequest: { name: 'pw-defaults' } }));
      assertMatches('PasswordPolicy', created);
      const { pk, ...rest } = created;
      assert.deepEqual(rest, {
        name: 'pw-defaults',
        execution_logging: false,
        component: 'ak-policy-password-form',
        verbose_name: 'Password Policy',
        verbose_name_plural: 'Password Policies',
        meta_model_name: 'authentik_policies_password.passwordpolicy',
        bound_to: 0,
        password_field: 'password',
        amount_digits: 0,
        amount_uppercase: 0,
        amount_lowercase: 0,
        amount_symbols: 0,
        length_min: 0,
        symbol_charset: '!\\"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~ ',
        error_message: '',
        check_static_rules: true,
        check_have_i_been_pwned: false,
        check_zxcvbn: false,
        hibp_allowed_count: 0,
        zxcvbn_score_threshold: 2,
      });
      const patched = await body(
        api.policiesPasswordPartialUpdateRaw({
          policyUuid: pk,
          patchedPasswordPolicyRequest: { checkZxcvbn: true, lengthMin: 12, errorMessage: 'too short' },
        }),
      );
      assert.deepEqual([patched.check_zxcvbn, patched.length_min, patched.error_message], [true, 12, 'too short']);
      await create('pw-other');
      const zx = await body(api.policiesPasswordListRaw({ checkZxcvbn: true }));
      assertMatches('PaginatedPasswordPolicyList', zx);
      // (a fresh install's default-password-change-password-policy checks zxcvbn too)
      assert.deepEqual(
        zx.results.map((p: { name: string }) => p.name).filter((n: string) => n.startsWith('pw-')),
        ['pw-defaults'],
      );
      assert.equal((await call(srv, 'GET', '/policies/password/?length_min=12')).body.pagination.count, 1);
      assert.equal((await call(srv, 'GET', '/policies/password/?error_message=too%20short')).body.pagination.count, 1);
      assert.equal(
        (await call(srv, 'GET', '/policies/password/?check_zxcvbn=false&search=pw-')).body.pagination.count,
        1,
        'pw-other (the default sign-up flow has a password policy too)',
      );
      const types = await body(api.policiesAllTypesListRaw());
      assert.deepEqual(
        types.find((t: { model_name: string }) => t.model_name === 'passwordpolicy'),
        {
          name: 'Password Policy',
          description: 'Policy to make sure passwords have certain properties',
          component: 'ak-policy-password-form',
          model_name: 'passwordpolicy',
          requires_enterprise: false,
          deprecated: false,
        },
      );
      assert.equal((await call(srv, 'GET', `/policies/all/${pk}/`)).body.component, 'ak-policy-password-form');
    });

    it('REST: validation 400s with DRF’s messages', async () => {
      const r = await call(srv, 'POST', '/policies/password/', {
        name: 'pw-bad',
        length_min: -1,
        amount_digits: 'x',
        symbol_charset: '',
        password_field: '',
        check_zxcvbn: 'maybe',
      });
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, {
        length_min: ['Ensure this value is greater than or equal to 0.'],
        amount_digits: ['A valid integer is required.'],
        symbol_charset: ['This field may not be blank.'],
        password_field: ['This field may not be blank.'],
        check_zxcvbn: ['Must be a valid boolean.'],
      });
      assert.deepEqual((await call(srv, 'POST', '/policies/password/', {})).body, { name: ['This field is required.'] });
      assert.equal((await call(srv, 'GET', '/policies/password/?hibp_allowed_count=many')).status, 400);
    });

    it('static rules: authentik’s cases, the message as configured, "Password not set in context"', async () => {
      const pk = await create('pw-static', {
        amount_digits: 1,
        amount_uppercase: 1,
        amount_lowercase: 2,
        amount_symbols: 3,
        length_min: 24,
        error_message: 'test message',
      });
      assert.deepEqual(await test(pk, {}), { passing: false, messages: ['Password not set in context'], log_messages: [] });
      for (const password of [
        'test', // too short
        '1TTTTTTTTTTTTTTTTTTTTTTe', // not enough lowercase
        '1tttttttttttttttttttttE', // not enough uppercase (and short)
        'tttttttttttttttttttttttttttt!!!1', // no uppercase
        '1ETETETETETETETETETETETETe!!!', // not enough symbols… (and lowercase)
        'TETETETETETETETETETETE1e!!!', // not enough digits / lowercase
      ])
        assert.deepEqual(await test(pk, { password }), { passing: false, messages: ['test message'], log_messages: [] }, password);
      assert.deepEqual(await test(pk, { password: 'Aaaaaaaaaaaaaaaaaaaaaaa1!!!' }), { passing: true, messages: [], log_messages: [] });
      // the prompt's value wins over a context key of the same name; another field name is read when configured
      assert.equal((await test(pk, { prompt_data: { password: 'short' }, password: 'Aaaaaaaaaaaaaaaaaaaaaaa1!!!' })).passing, false);
      await call(srv, 'PATCH', `/policies/password/${pk}/`, { password_field: 'new_password' });
      assert.equal((await test(pk, { prompt_data: { new_password: 'Aaaaaaaaaaaaaaaaaaaaaaa1!!!' } })).passing, true);
      assert.deepEqual((await test(pk, { prompt_data: { password: 'Aaaaaaaaaaaaaaaaaaaaaaa1!!!' } })).messages, [
        'Password not set in context',
      ]);
      // uppercase is counted as uppercase (authentik fixed comparing it with amount_lowercase in 2025.8)
      const upper = await create('pw-upper', { amount_uppercase: 2, error_message: 'two capitals' });
      assert.equal((await test(upper, { password: 'abcdefgH' })).passing, false);
      assert.equal((await test(upper, { password: 'abcdefGH' })).passing, true);
      // a symbol listed twice in the charset counts twice (authentik counts per charset character)
      const sym = await create('pw-sym', { amount_symbols: 2, symbol_charset: '!!', error_message: 'symbols' });
      assert.equal((await test(sym, { password: 'x!' })).passing, true);
      // an empty error message reads "Invalid password."
      const blank = await create('pw-blank', { length_min: 30 });
      assert.deepEqual((await test(blank, { password: 'short' })).messages, ['Invalid password.']);
    });

    it('zxcvbn: authentik’s messages; the user’s own details count as guessable', async () => {
      const pk = await create('pw-zxcvbn', { check_static_rules: false, check_zxcvbn: true, zxcvbn_score_threshold: 3 });
      assert.deepEqual(await test(pk, { prompt_data: { password: 'password' } }), {
        passing: false,
        messages: ['Password is too weak.', 'Add another word or two. Uncommon words are better.'],
        log_messages: [],
      });
      assert.deepEqual((await test(pk, { prompt_data: { password: 'Awdccdw1234' } })).messages, ['Password is too weak.']);
      assert.deepEqual(await test(pk, { prompt_data: { password: 'aB3$kq9!Zp2mW7xL-quartz' } }), {
        passing: true,
        messages: [],
        log_messages: [],
      });
      await call(srv, 'PATCH', `/policies/password/${pk}/`, { zxcvbn_score_threshold: 2 });
      const other = await createUser(srv, 'zanzibarquokka', 'pw-user-password-2');
      assert.equal((await test(pk, { password: 'zanzibarquokka77' }, uid)).passing, true, 'strong enough for someone else');
      assert.equal((await test(pk, { password: 'zanzibarquokka77' }, other)).passing, false, 'their own username is guessable');
    });

    it('Have I Been Pwned: a k-anonymity range query (5 hex characters leave), the count against hibp_allowed_count', async () => {
      hibp.add('hunter2-pwned', 3);
      hibp.paths.length = 0;
      const pk = await create('pw-hibp', { check_static_rules: false, check_have_i_been_pwned: true });
      assert.deepEqual(await test(pk, { prompt_data: { password: 'hunter2-pwned' } }), {
        passing: false,
        messages: ['Password exists on 3 online lists.'],
        log_messages: [],
      });
      assert.deepEqual(hibp.paths, [`/range/${sha1('hunter2-pwned').slice(0, 5)}`], 'only the prefix is sent');
      assert.equal((await test(pk, { prompt_data: { password: 'never-seen-before-3f9a' } })).passing, true);
      await call(srv, 'PATCH', `/policies/password/${pk}/`, { hibp_allowed_count: 3 });
      assert.equal((await test(pk, { prompt_data: { password: 'hunter2-pwned' } })).passing, true, 'allowed 3 times');
      // the static rules run first and decide
      await call(srv, 'PATCH', `/policies/password/${pk}/`, { check_static_rules: true, length_min: 50, error_message: 'long' });
      hibp.paths.length = 0;
      assert.deepEqual((await test(pk, { prompt_data: { password: 'hunter2-pwned' } })).messages, ['long']);
      assert.equal(hibp.paths.length, 0, 'not asked when the static rules fail');
    });

    it('Have I Been Pwned unreachable or failing: the policy raises (the binding’s failure_result applies), never passes', async () => {
      const pk = await create('pw-hibp-down', { check_static_rules: false, check_have_i_been_pwned: true });
      hibp.mode = '500';
      try {
        const r = await test(pk, { prompt_data: { password: 'whatever-password' } });
        assert.equal(r.passing, false);
        assert.deepEqual(r.messages, ['Have I Been Pwned answered 500']);
      } finally {
        hibp.mode = 'normal';
      }
      // the binding's timeout: the request is aborted, not left running
      hibp.mode = 'slow';
      try {
        const started = Date.now();
        await assert.rejects(pwnedCount(hibp.url, 'whatever-password', 300), (e: Error) => e.name === 'TimeoutError');
        assert.ok(Date.now() - started < 2000);
        await new Promise((r) => setTimeout(r, 100));
        assert.ok(hibp.aborted >= 1, 'the connection was closed');
      } finally {
        hibp.mode = 'normal';
      }
    });
  });
}
