/**
 * List and token details from api-surface.md: the users `attributes` filter, case-sensitive `path_startswith`,
 * group filters that refuse unknown values, secrets that cannot be used for ordering, API-token expiry that a
 * write cannot push out, and `set_key` without a key; the e-mail, SMS and Duo stage filters (secrets included).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';

const usernames = (r: { body: { results: { username: string }[] } }) => r.body.results.map((u) => u.username).sort();

for (const dialect of dialects()) {
  describe(`list filters and token details (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
      const users = [
        {
          username: 'attr-a',
          name: 'A',
          path: 'Staff/berlin',
          attributes: { dept: 'ops', level: 3, remote: true, tags: ['x'], nested: { k: 'v' } },
        },
        { username: 'attr-b', name: 'B', path: 'staff/paris', attributes: { dept: 'ops', level: 4, remote: false } },
        { username: 'attr-c', name: 'C', path: 'Staff', attributes: { dept: 'dev' } },
      ];
      for (const u of users) assert.equal((await call(srv, 'POST', '/core/users/', u)).status, 201);
    });
    after(async () => srv.close());

    it('attributes matches every key exactly, nested keys with __, and bad JSON is a top-level list error', async () => {
      const q = (o: unknown) =>
        call(srv, 'GET', `/core/users/?attributes=${encodeURIComponent(typeof o === 'string' ? o : JSON.stringify(o))}`);
      assert.deepEqual(usernames(await q({ dept: 'ops' })), ['attr-a', 'attr-b']);
      assert.deepEqual(usernames(await q({ dept: 'ops', level: 4 })), ['attr-b']);
      assert.deepEqual(usernames(await q({ remote: true })), ['attr-a']);
      assert.deepEqual(usernames(await q({ nested__k: 'v' })), ['attr-a']);
      assert.deepEqual(usernames(await q({ tags: ['x'] })), ['attr-a']);
      assert.deepEqual(usernames(await q({ level: '3' })), [], 'a string is not the number 3');
      assert.deepEqual(usernames(await q({ dept: 'nobody' })), []);
      const bad = await q('{not json');
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body, ['filter: failed to parse JSON']);
      const notObject = await q('[1]');
      assert.equal(notObject.status, 400);
      assert.deepEqual(notObject.body, ['filter: value must be key:value mapping']);
    });

    it('path_startswith is a case-sensitive prefix', async () => {
      const r = await call(srv, 'GET', '/core/users/?path_startswith=Staff');
      assert.deepEqual(usernames(r), ['attr-a', 'attr-c']);
      const lower = await call(srv, 'GET', '/core/users/?path_startswith=staff');
      assert.deepEqual(usernames(lower), ['attr-b']);
      const pct = await call(srv, 'GET', '/core/users/?path_startswith=%25');
      assert.deepEqual(usernames(pct), [], '% is not a wildcard');
    });

    it('groups_by_name and groups_by_pk refuse groups that do not exist', async () => {
      const r = await call(srv, 'GET', '/core/users/?groups_by_name=no-such-group');
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, { groups_by_name: ['Select a valid choice. no-such-group is not one of the available choices.'] });
      const missing = '00000000-0000-4000-8000-000000000000';
      const p = await call(srv, 'GET', `/core/users/?groups_by_pk=${missing}`);
      assert.equal(p.status, 400);
      assert.deepEqual(p.body, { groups_by_pk: [`Select a valid choice. ${missing} is not one of the available choices.`] });
      const admins = await call(srv, 'GET', `/core/users/?groups_by_name=${encodeURIComponent('authentik Admins')}`);
      assert.equal(admins.status, 200);
      assert.deepEqual(usernames(admins), ['akadmin']);
    });

    it('a write-only secret (captcha private_key) is not an ordering', async () => {
      for (const [name, key] of [
        ['cap-z', 'aaa'],
        ['cap-a', 'zzz'],
      ]) {
        assert.equal((await call(srv, 'POST', '/stages/captcha/', { name, public_key: 'p', private_key: key })).status, 201);
      }
      const byKey = await call(srv, 'GET', '/stages/captcha/?ordering=private_key');
      const byName = await call(srv, 'GET', '/stages/captcha/');
      assert.equal(byKey.status, 200);
      assert.deepEqual(
        byKey.body.results.map((s: { name: string }) => s.name),
        byName.body.results.map((s: { name: string }) => s.name),
        'unknown ordering names are dropped, so the default (name) applies',
      );
      assert.ok(byKey.body.results.every((s: Record<string, unknown>) => !('private_key' in s)));
    });

    it('e-mail, SMS and Duo stage lists filter on every field authentik documents (exact, numbers, booleans, choices, foreign keys)', async () => {
      const names = (r: { body: { results: { name: string }[] } }) => r.body.results.map((s) => s.name).sort();
      const email = (q: string) => call(srv, 'GET', `/stages/authenticator/email/?${q}`);
      for (const body of [
        { name: 'mail-a', host: 'smtp.a.example', port: 587, username: 'u-a', use_tls: true, timeout: 5, subject: 'Code A' },
        { name: 'mail-b', host: 'smtp.b.example', use_global_settings: true, from_address: 'b@example.com', token_expiry: 'minutes=5' },
      ])
        assert.equal((await call(srv, 'POST', '/stages/authenticator/email/', body)).status, 201);
      assert.deepEqual(names(await email('host=smtp.a.example')), ['mail-a']);
      assert.deepEqual(names(await email('host=nomatch.example')), [], 'the filter of the issue: no longer ignored');
      assert.deepEqual(names(await email('host=SMTP.A.EXAMPLE')), [], 'exact, case-sensitive');
      assert.deepEqual(names(await email('port=587')), ['mail-a']);
      assert.deepEqual(names(await email('port=25')), ['mail-b']);
      assert.deepEqual(names(await email('port=99999999999')), [], 'beyond the column: nothing, not a 500');
      assert.deepEqual((await email('port=x')).body, { port: ['Enter a number.'] });
      assert.deepEqual(names(await email('timeout=5')), ['mail-a']);
      assert.deepEqual(names(await email('use_tls=true')), ['mail-a']);
      assert.deepEqual(names(await email('use_tls=false')), ['mail-b']);
      assert.deepEqual(names(await email('use_tls=maybe')), ['mail-a', 'mail-b'], 'an unknown boolean is no filter (django-filter)');
      assert.deepEqual(names(await email('use_ssl=true')), []);
      assert.deepEqual(names(await email('use_global_settings=true')), ['mail-b']);
      assert.deepEqual(names(await email('username=u-a')), ['mail-a']);
      assert.deepEqual(names(await email('subject=Code%20A')), ['mail-a']);
      assert.deepEqual(names(await email('from_address=b%40example.com')), ['mail-b']);
      assert.deepEqual(names(await email('token_expiry=minutes%3D5')), ['mail-b']);
      assert.deepEqual(names(await email('template=email%2Femail_otp.html')), ['mail-a', 'mail-b']);
      assert.deepEqual(names(await email('friendly_name=nobody')), []);
      assert.deepEqual(names(await email('host=')), ['mail-a', 'mail-b'], 'an empty value is no filter');

      const sms = (q: string) => call(srv, 'GET', `/stages/authenticator/sms/?${q}`);
      const smsBody = { provider: 'generic', from_number: '+15550100', account_sid: 'https://sms.example/send', auth: 'tok' };
      assert.equal((await call(srv, 'POST', '/stages/authenticator/sms/', { ...smsBody, name: 'sms-a', auth_type: 'bearer' })).status, 201);
      assert.equal(
        (await call(srv, 'POST', '/stages/authenticator/sms/', { ...smsBody, name: 'sms-b', from_number: '+15550199', verify_only: true }))
          .status,
        201,
      );
      assert.deepEqual(names(await sms('from_number=%2B15550199')), ['sms-b']);
      assert.deepEqual(names(await sms('account_sid=https%3A%2F%2Fsms.example%2Fsend')), ['sms-a', 'sms-b']);
      assert.deepEqual(names(await sms('auth_type=bearer')), ['sms-a']);
      assert.deepEqual((await sms('auth_type=digest')).body, {
        auth_type: ['Select a valid choice. digest is not one of the available choices.'],
      });
      assert.deepEqual(names(await sms('verify_only=true')), ['sms-b']);
      assert.deepEqual(names(await sms('friendly_name=x')), []);
      // property mappings do not exist in Keystage: any pk names nothing (django-filter's ModelChoiceFilter: a 400)
      assert.deepEqual((await sms('mapping=00000000-0000-4000-8000-000000000000')).body, {
        mapping: ['Select a valid choice. That choice is not one of the available choices.'],
      });

      const duo = (q: string) => call(srv, 'GET', `/stages/authenticator/duo/?${q}`);
      const duoBody = { client_secret: 's', api_hostname: 'api-a.duosecurity.com' };
      assert.equal((await call(srv, 'POST', '/stages/authenticator/duo/', { ...duoBody, name: 'duo-a', client_id: 'DIA' })).status, 201);
      assert.equal(
        (
          await call(srv, 'POST', '/stages/authenticator/duo/', {
            ...duoBody,
            name: 'duo-b',
            client_id: 'DIB',
            api_hostname: 'api-b.duosecurity.com',
          })
        ).status,
        201,
      );
      assert.deepEqual(names(await duo('client_id=DIB')), ['duo-b']);
      assert.deepEqual(names(await duo('api_hostname=api-a.duosecurity.com')), ['duo-a']);
      assert.deepEqual(names(await duo('api_hostname=nomatch')), []);
    });

    it('secret filters (e-mail password, SMS auth and auth_password) match the stored secret exactly and never show it', async () => {
      const names = (r: { body: { results: { name: string }[] } }) => r.body.results.map((s) => s.name).sort();
      assert.equal((await call(srv, 'POST', '/stages/authenticator/email/', { name: 'secret-mail', password: ' pass word ' })).status, 201);
      const email = (q: string) => call(srv, 'GET', `/stages/authenticator/email/?name=secret-mail&${q}`);
      assert.deepEqual(names(await email(`password=${encodeURIComponent(' pass word ')}`)), ['secret-mail']);
      assert.deepEqual(names(await email('password=pass%20word')), [], 'exact: the stored secret keeps its spaces');
      assert.deepEqual(names(await email('password=PASS%20WORD')), []);
      const shown = await email(`password=${encodeURIComponent(' pass word ')}`);
      assert.ok(!JSON.stringify(shown.body).includes('pass word'), 'the secret is not in the answer');
      // (stage tables are named at run time: not in the Database type)
      const row = (await (srv.app.store.db as unknown as Kysely<any>)
        .selectFrom('stage_authenticator_email')
        .select('password')
        .where('password', 'like', 'enc:v1:%')
        .executeTakeFirst()) as { password: string } | undefined;
      assert.ok(row, 'stored encrypted');
      assert.deepEqual(names(await email(`password=${encodeURIComponent(row.password)}`)), [], 'the stored ciphertext is not the secret');

      const smsBody = { provider: 'twilio', from_number: '+1', account_sid: 'AC1', auth: 'sid-token', auth_password: 'pw-1' };
      assert.equal((await call(srv, 'POST', '/stages/authenticator/sms/', { ...smsBody, name: 'secret-sms' })).status, 201);
      const sms = (q: string) => call(srv, 'GET', `/stages/authenticator/sms/?name=secret-sms&${q}`);
      assert.deepEqual(names(await sms('auth=sid-token')), ['secret-sms']);
      assert.deepEqual(names(await sms('auth=sid-token&auth_password=pw-1')), ['secret-sms']);
      assert.deepEqual(names(await sms('auth=sid-token&auth_password=pw-2')), [], 'every secret filter must match');
      assert.deepEqual(names(await sms('auth=sid')), []);

      // only superusers list stages at all, so only they can try a secret
      const plain = (await call(srv, 'POST', '/core/users/', { username: 'secret-prober', name: 'P' })).body.pk;
      await call(srv, 'POST', '/core/tokens/', { identifier: 'secret-prober-token', intent: 'api', user: plain, expiring: false });
      const key = 'secret-prober-key-0123456789abcdefghij';
      await call(srv, 'POST', '/core/tokens/secret-prober-token/set_key/', { key });
      const probe = await call(srv, 'GET', '/stages/authenticator/sms/?auth=sid-token', undefined, { authorization: `Bearer ${key}` });
      assert.deepEqual(probe, {
        status: 403,
        body: { detail: 'You do not have permission to perform this action.' },
        headers: probe.headers,
      });
    });

    it('events: action is a case-insensitive substring; brand_name and the context filters match inside the context JSON', async () => {
      const events = srv.app.services.events;
      await events.emit('login_failed', { context: { username: 'ctx-user', reason: 'x' } });
      await events.emit('model_created', {
        context: {
          model: { app: 'authentik_stages_authenticator_totp', model_name: 'totpdevice', pk: 4242, name: 'Phone' },
          device: { pk: 'dddddddd-0000-4000-8000-000000000001', name: 'Laptop' },
          authorized_application: { pk: 'aaaaaaaa000040008000000000000002', name: 'App' },
        },
      });
      const stage = (await call(srv, 'POST', '/stages/dummy/', { name: 'ctx-dummy' })).body;
      const ev = (q: string) => call(srv, 'GET', `/events/events/?page_size=100&${q}`);
      const actions = (r: { body: { results: { action: string }[] } }) => [...new Set(r.body.results.map((e) => e.action))].sort();
      const count = async (q: string) => (await ev(q)).body.pagination.count as number;

      assert.deepEqual(actions(await ev('action=login')), ['login_failed'], 'login matches login_failed');
      assert.deepEqual(actions(await ev('action=LOGIN_F')), ['login_failed']);
      // (the set_key above is recorded as the token's model_updated, as authentik's)
      assert.deepEqual(actions(await ev('action=model_')), ['model_created', 'model_updated']);
      const x = await ev('action=x');
      assert.equal(x.status, 200, 'any string, not a choice');
      assert.equal(x.body.pagination.count, 0);
      assert.equal(await count('action=%25'), 0, '% is not a wildcard');
      assert.deepEqual(actions(await ev('actions=login_failed')), ['login_failed']);

      // primary keys without their dashes (authentik stores a UUID's hex), and integer pks as numbers
      const byPk = await ev(`context_model_pk=${stage.pk}`);
      assert.deepEqual(
        byPk.body.results.map((e: { context: { model: { name: string } } }) => e.context.model.name),
        ['ctx-dummy'],
      );
      assert.equal(await count(`context_model_pk=${stage.pk.replaceAll('-', '')}`), 1);
      assert.equal(await count('context_model_pk=4242'), 1);
      assert.equal(await count('context_model_pk=424'), 0);
      assert.equal(await count('context_model_name=totpdevice'), 1);
      assert.equal(await count('context_model_name=TOTPDevice'), 0, 'exact');
      assert.equal(await count('context_model_name=dummystage'), 1);
      assert.equal(await count('context_model_app=authentik_stages_authenticator_totp'), 1);
      assert.equal(await count('context_authorized_app=aaaaaaaa000040008000000000000002'), 1);
      assert.equal(await count('context_authorized_app=App'), 0);
      assert.equal(await count('context_device=dddddddd-0000-4000-8000-000000000001'), 1);
      assert.equal(await count('context_device=dddddddd000040008000000000000001'), 1);
      assert.equal(await count('context_device=Laptop'), 0);
      // Keystage records no brand on events (each one's `brand` is {}): a brand name matches none
      assert.equal(await count('brand_name=authentik'), 0);
      const all = await count('');
      assert.equal(await count('brand_name='), all, 'an empty value is no filter');
      assert.equal(await count('context_model_name='), all);
    });

    it('flow bindings’ policies filter: the bindings any of the given policies is bound to; an unknown pk is a 400', async () => {
      const flow = (await call(srv, 'POST', '/flows/instances/', { name: 'pf', slug: 'pf', title: 'pf', designation: 'authentication' }))
        .body;
      const stage = (await call(srv, 'POST', '/stages/dummy/', { name: 'pf-dummy' })).body;
      const bound = (await call(srv, 'POST', '/flows/bindings/', { target: flow.pk, stage: stage.pk, order: 0 })).body;
      await call(srv, 'POST', '/flows/bindings/', { target: flow.pk, stage: stage.pk, order: 1 });
      const policy = (await call(srv, 'POST', '/policies/dummy/', { name: 'pf-bound', result: true, wait_min: 0, wait_max: 0 })).body;
      const idle = (await call(srv, 'POST', '/policies/dummy/', { name: 'pf-idle', result: true, wait_min: 0, wait_max: 0 })).body;
      assert.equal((await call(srv, 'POST', '/policies/bindings/', { target: bound.pk, order: 0, policy: policy.pk })).status, 201);
      const pks = async (q: string) =>
        (await call(srv, 'GET', `/flows/bindings/?target=${flow.pk}&${q}`)).body.results.map((b: { pk: string }) => b.pk);
      assert.deepEqual(await pks(`policies=${policy.pk}`), [bound.pk]);
      assert.deepEqual(await pks(`policies=${idle.pk}`), []);
      assert.deepEqual(await pks(`policies=${idle.pk}&policies=${policy.pk}`), [bound.pk]);
      const missing = '00000000-0000-4000-8000-000000000000';
      const r = await call(srv, 'GET', `/flows/bindings/?policies=${missing}`);
      assert.deepEqual(r.body, { policies: [`Select a valid choice. ${missing} is not one of the available choices.`] });
    });

    it('an API token’s expiry is set by the server on every write; set_key without a key is an empty 400', async () => {
      const created = await call(srv, 'POST', '/core/tokens/', { identifier: 'exp-test', intent: 'api' });
      assert.equal(created.status, 201);
      const dayMs = 24 * 3600 * 1000;
      const near = (iso: string) => Math.abs(new Date(iso).getTime() - (Date.now() + dayMs)) < 60_000;
      assert.ok(near(created.body.expires), created.body.expires);
      const patched = await call(srv, 'PATCH', '/core/tokens/exp-test/', { expires: '2099-01-01T00:00:00Z', description: 'later' });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.description, 'later');
      assert.ok(near(patched.body.expires), `PATCH kept the server's expiry, not ${patched.body.expires}`);
      const row = await srv.app.store.db
        .selectFrom('tokens')
        .select('expires')
        .where('identifier', '=', 'exp-test')
        .executeTakeFirstOrThrow();
      assert.ok(near(String(row.expires)));

      const noKey = await call(srv, 'POST', '/core/tokens/exp-test/set_key/', {});
      assert.equal(noKey.status, 400);
      assert.equal(noKey.body, undefined, 'empty body');
      const ok = await call(srv, 'POST', '/core/tokens/exp-test/set_key/', { key: 'k'.repeat(40) });
      assert.equal(ok.status, 204);
    });
  });
}
