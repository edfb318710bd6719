/** Device APIs: the caller's own devices, the admin's view of everyone's, and admin enrolment (secrets shown once). */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateTOTP } from '@oslojs/otp';
import { decodeBase32IgnorePadding } from '@oslojs/encoding';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { assertArrayOf, assertMatches } from '../helpers/openapi-schema.js';
import { addTotpDevice } from '../helpers/devices.js';
import { hashStaticToken } from '../../src/mfa/static/static.js';
import { secretsOf } from '../../src/instance/secrets.js';

const SECRET = 'devices-secret-' + 'd'.repeat(32);

for (const dialect of dialects()) {
  describe(`device APIs (${dialect})`, () => {
    let srv: TestServer;
    let bob: number;
    const bobKey = 'bob-api-key-0123456789abcdefghijklmn';
    const asBob = (method: string, path: string, b?: unknown) => call(srv, method, path, b, { authorization: `Bearer ${bobKey}` });

    before(async () => {
      srv = await startServer(dialect, { secretKey: SECRET });
      bob = (await call(srv, 'POST', '/core/users/', { username: 'bob-dev', name: 'Bob', email: 'bob@example.com' })).body.pk;
      await call(srv, 'POST', '/core/tokens/', { identifier: 'bob-dev-token', intent: 'api', user: bob, expiring: false });
      await call(srv, 'POST', '/core/tokens/bob-dev-token/set_key/', { key: bobKey });
    });
    after(async () => srv.close());

    it('admin enrols a TOTP device for a user: the otpauth URL is shown once and yields valid codes', async () => {
      const r = await call(srv, 'POST', '/authenticators/admin/totp/', { name: 'Bob phone', user_pk: bob });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assertMatches('TOTPDevice', r.body);
      assert.equal(r.body.user.username, 'bob-dev');
      const url = new URL(r.body.config_url);
      assert.equal(url.protocol, 'otpauth:');
      const secret = url.searchParams.get('secret')!;
      const row = await srv.app.store.db.selectFrom('totp_devices').select(['key']).where('id', '=', r.body.pk).executeTakeFirstOrThrow();
      // stored encrypted (core/secrets.ts), decrypting to the key the URL carries
      assert.match(row.key, /^enc:v1:[0-9a-f]{8}:/);
      assert.equal(
        Buffer.from(decodeBase32IgnorePadding(secret)).toString('hex'),
        secretsOf(srv.app.store.db).open('totp_devices.key', row.key),
      );
      assert.match(generateTOTP(decodeBase32IgnorePadding(secret), 30, 6), /^\d{6}$/);
      const again = await call(srv, 'GET', `/authenticators/admin/totp/${r.body.pk}/`);
      assert.equal('config_url' in again.body, false, 'never shown again');
    });

    it('admin creates recovery codes: shown once in clear, stored only as HMACs', async () => {
      const r = await call(srv, 'POST', '/authenticators/admin/static/', {
        name: 'Bob codes',
        user_pk: bob,
        token_count: 4,
        token_length: 16,
      });
      assert.equal(r.status, 201);
      assertMatches('StaticDevice', r.body);
      assert.equal(r.body.token_set.length, 4);
      const stored = await srv.app.store.db.selectFrom('static_tokens').select('token').where('device_id', '=', r.body.pk).execute();
      assert.deepEqual(
        stored.map((s) => s.token).sort(),
        r.body.token_set.map((t: { token: string }) => hashStaticToken(SECRET, t.token)).sort(),
      );
      assert.ok(!stored.some((s) => r.body.token_set.some((t: { token: string }) => t.token === s.token)), 'no code in clear');
      const later = await call(srv, 'GET', `/authenticators/admin/static/${r.body.pk}/`);
      assert.deepEqual(later.body.token_set, []);
    });

    it('users see and manage only their own devices', async () => {
      const mine = await call(srv, 'POST', '/authenticators/admin/totp/', { name: 'Admin phone' });
      const bobs = await asBob('GET', '/authenticators/totp/');
      assertMatches('PaginatedTOTPDeviceList', bobs.body);
      assert.deepEqual(
        bobs.body.results.map((d: { name: string }) => d.name),
        ['Bob phone'],
      );
      assert.equal((await asBob('GET', `/authenticators/totp/${mine.body.pk}/`)).status, 404);
      assert.equal((await asBob('DELETE', `/authenticators/totp/${mine.body.pk}/`)).status, 404);
      const own = bobs.body.results[0].pk;
      const renamed = await asBob('PATCH', `/authenticators/totp/${own}/`, { name: 'Renamed phone' });
      assert.equal(renamed.body.name, 'Renamed phone');
      assertMatches('TOTPDevice', renamed.body);
      assert.equal((await asBob('POST', '/authenticators/totp/', { name: 'x' })).status, 405);
      assert.equal((await asBob('GET', '/authenticators/admin/totp/')).status, 403);
      const all = await asBob('GET', '/authenticators/all/');
      assertArrayOf('Device', all.body);
      assert.deepEqual(all.body.map((d: { type: string }) => d.type).sort(), [
        'authentik_stages_authenticator_static.StaticDevice',
        'authentik_stages_authenticator_totp.TOTPDevice',
      ]);
      assert.equal(typeof all.body[0].pk, 'string');
      assert.equal((await asBob('DELETE', `/authenticators/totp/${own}/`)).status, 204);
      assert.equal((await asBob('GET', '/authenticators/totp/')).body.pagination.count, 0);
    });

    it('unconfirmed devices are hidden from the user lists; admin/all filters by user; WebAuthn admin create is refused', async () => {
      await addTotpDevice(srv.app.store.db, bob, { name: 'half-enrolled', confirmed: false });
      assert.equal((await asBob('GET', '/authenticators/totp/')).body.pagination.count, 0);
      const adminAll = await call(srv, 'GET', `/authenticators/admin/all/?user=${bob}`);
      assertArrayOf('Device', adminAll.body);
      assert.ok(adminAll.body.some((d: { name: string; confirmed: boolean }) => d.name === 'half-enrolled' && !d.confirmed));
      assert.deepEqual((await call(srv, 'GET', '/authenticators/admin/all/?user=999999')).body, {
        user: ['Invalid pk "999999" - object does not exist.'],
      });
      const wa = await call(srv, 'POST', '/authenticators/admin/webauthn/', { name: 'key' });
      assert.equal(wa.status, 400);
      assert.ok(wa.body.non_field_errors[0].includes('authenticator itself'));
      const used = await call(srv, 'GET', `/core/users/${bob}/used_by/`);
      assert.ok(used.body.some((u: { model_name: string }) => u.model_name === 'staticdevice'));
    });
  });
}

for (const dialect of dialects()) {
  describe(`e-mail and SMS device APIs (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv.close());

    it('lists, renames and removes e-mail and SMS devices; admin create of e-mail, SMS and Duo devices is refused, naming the class', async () => {
      const now = new Date().toISOString();
      const common = {
        user_id: 1,
        stage: null,
        confirmed: 1,
        created: now,
        last_updated: now,
        last_used: null,
        throttling_failure_timestamp: null,
        throttling_failure_count: 0,
        token_hash: null,
        valid_until: null,
      };
      await srv.app.store.db
        .insertInto('email_devices')
        .values({ ...common, name: 'Mail', email: 'admin@example.com' } as never)
        .execute();
      await srv.app.store.db
        .insertInto('sms_devices')
        .values({ ...common, name: 'Phone', phone_number: '+15550100' } as never)
        .execute();
      const mails = await call(srv, 'GET', '/authenticators/email/');
      assertMatches('PaginatedEmailDeviceList', mails.body);
      assert.equal(mails.body.results[0].email, 'admin@example.com');
      const phones = await call(srv, 'GET', '/authenticators/sms/');
      assertMatches('PaginatedSMSDeviceList', phones.body);
      const renamed = await call(srv, 'PATCH', `/authenticators/sms/${phones.body.results[0].pk}/`, { name: 'Work phone' });
      assert.equal(renamed.body.name, 'Work phone');
      const all = await call(srv, 'GET', '/authenticators/all/');
      assert.ok(all.body.some((d: { type: string }) => d.type === 'authentik_stages_authenticator_email.EmailDevice'));
      assert.equal((await call(srv, 'POST', '/authenticators/admin/email/', { name: 'x' })).status, 400);
      // each class's refusal names that class
      for (const [cls, word] of [
        ['email', 'E-mail'],
        ['sms', 'SMS'],
        ['duo', 'Duo devices'],
      ]) {
        const refused = await call(srv, 'POST', `/authenticators/admin/${cls}/`, { name: 'x' });
        assert.equal(refused.status, 400);
        assert.ok(refused.body.non_field_errors[0].startsWith(word), `${cls}: ${refused.body.non_field_errors[0]}`);
      }
      assert.ok(!(await call(srv, 'POST', '/authenticators/admin/duo/', { name: 'x' })).body.non_field_errors[0].includes('SMS'));
      assert.equal((await call(srv, 'DELETE', `/authenticators/email/${mails.body.results[0].pk}/`)).status, 204);
      assert.equal((await call(srv, 'GET', '/authenticators/email/')).body.pagination.count, 0);
    });
  });
}
