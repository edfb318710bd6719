/**
 * Contract: every stage type's seven operations through the official client, every response body checked
 * against its component in the client's schema.yml; defaults, PUT vs PATCH, 404 bodies, uniqueness across types.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dialects, startServer, type TestServer } from '../../helpers/server.js';
import { assertArrayOf, assertMatches } from '../../helpers/openapi-schema.js';
import { body, clients, failure, status } from './client.js';

interface StageCase {
  method: string;
  request: string;
  component: string;
  model: string;
  create: Record<string, unknown>;
  defaults: Record<string, unknown>;
  patch: Record<string, unknown>;
  patched: Record<string, unknown>;
}

const CASES: StageCase[] = [
  {
    method: 'stagesIdentification',
    request: 'IdentificationStageRequest',
    component: 'IdentificationStage',
    model: 'IdentificationStage',
    create: { userFields: ['username', 'email'] },
    defaults: {
      case_insensitive_matching: true,
      show_matched_user: true,
      pretend_user_exists: true,
      enable_remember_me: false,
      password_stage: null,
      sources: [],
      show_source_labels: false,
      webauthn_stage: null,
    },
    patch: { showMatchedUser: false, userFields: ['email'] },
    patched: { show_matched_user: false, user_fields: ['email'] },
  },
  {
    method: 'stagesCaptcha',
    request: 'CaptchaStageRequest',
    component: 'CaptchaStage',
    model: 'CaptchaStage',
    create: { publicKey: 'site-key', privateKey: 'secret-key' },
    defaults: {
      js_url: 'https://www.recaptcha.net/recaptcha/api.js',
      api_url: 'https://www.recaptcha.net/recaptcha/api/siteverify',
      interactive: false,
      score_min_threshold: 0.5,
      score_max_threshold: 1,
      error_on_invalid_score: true,
      request_content_type: 'application/x-www-form-urlencoded',
    },
    patch: { scoreMinThreshold: 0.25, requestContentType: 'application/json' },
    patched: { score_min_threshold: 0.25, request_content_type: 'application/json' },
  },
  {
    method: 'stagesAuthenticatorValidate',
    request: 'AuthenticatorValidateStageRequest',
    component: 'AuthenticatorValidateStage',
    model: 'AuthenticatorValidateStage',
    create: {},
    defaults: {
      not_configured_action: 'skip',
      device_classes: ['static', 'totp', 'webauthn', 'duo', 'sms', 'email'],
      configuration_stages: [],
      last_auth_threshold: 'seconds=0',
      webauthn_user_verification: 'preferred',
      webauthn_hints: [],
      webauthn_allowed_device_types: [],
      webauthn_allowed_device_types_obj: [],
      totp_otp_throttling_factor: 1,
    },
    patch: { lastAuthThreshold: 'hours=1;minutes=30', deviceClasses: ['totp'] },
    patched: { last_auth_threshold: 'hours=1;minutes=30', device_classes: ['totp'] },
  },
  {
    method: 'stagesPassword',
    request: 'PasswordStageRequest',
    component: 'PasswordStage',
    model: 'PasswordStage',
    create: { backends: ['authentik.core.auth.InbuiltBackend'] },
    defaults: { failed_attempts_before_cancel: 5, allow_show_password: false, configure_flow: null },
    patch: { allowShowPassword: true },
    patched: { allow_show_password: true },
  },
  {
    method: 'stagesUserLogin',
    request: 'UserLoginStageRequest',
    component: 'UserLoginStage',
    model: 'UserLoginStage',
    create: {},
    defaults: {
      session_duration: 'seconds=0',
      remember_me_offset: 'seconds=0',
      terminate_other_sessions: false,
      network_binding: 'no_binding',
      geoip_binding: 'no_binding',
      remember_device: 'days=30',
    },
    patch: { sessionDuration: 'hours=8' },
    patched: { session_duration: 'hours=8' },
  },
  {
    method: 'stagesDeny',
    request: 'DenyStageRequest',
    component: 'DenyStage',
    model: 'DenyStage',
    create: {},
    defaults: { deny_message: '' },
    patch: { denyMessage: 'Go away' },
    patched: { deny_message: 'Go away' },
  },
  {
    method: 'stagesDummy',
    request: 'DummyStageRequest',
    component: 'DummyStage',
    model: 'DummyStage',
    create: {},
    defaults: { throw_error: false },
    patch: { throwError: true },
    patched: { throw_error: true },
  },
  {
    method: 'stagesAuthenticatorTotp',
    request: 'AuthenticatorTOTPStageRequest',
    component: 'AuthenticatorTOTPStage',
    model: 'AuthenticatorTOTPStage',
    create: { digits: '6' },
    defaults: { friendly_name: '', configure_flow: null, digits: '6' },
    patch: { digits: '8', friendlyName: 'Phone app' },
    patched: { digits: '8', friendly_name: 'Phone app' },
  },
  {
    method: 'stagesAuthenticatorStatic',
    request: 'AuthenticatorStaticStageRequest',
    component: 'AuthenticatorStaticStage',
    model: 'AuthenticatorStaticStage',
    create: {},
    defaults: { friendly_name: '', configure_flow: null, token_count: 6, token_length: 12 },
    patch: { tokenCount: 8 },
    patched: { token_count: 8 },
  },
  {
    method: 'stagesAuthenticatorWebauthn',
    request: 'AuthenticatorWebAuthnStageRequest',
    component: 'AuthenticatorWebAuthnStage',
    model: 'AuthenticatorWebAuthnStage',
    create: {},
    defaults: {
      user_verification: 'preferred',
      authenticator_attachment: null,
      resident_key_requirement: 'preferred',
      hints: [],
      device_type_restrictions: [],
      device_type_restrictions_obj: [],
      max_attempts: 0,
    },
    patch: { maxAttempts: 3, authenticatorAttachment: 'platform' },
    patched: { max_attempts: 3, authenticator_attachment: 'platform' },
  },
  {
    method: 'stagesAuthenticatorEmail',
    request: 'AuthenticatorEmailStageRequest',
    component: 'AuthenticatorEmailStage',
    model: 'AuthenticatorEmailStage',
    create: { password: 'smtp-secret' },
    defaults: {
      use_global_settings: false,
      host: 'localhost',
      port: 25,
      use_tls: false,
      use_ssl: false,
      timeout: 10,
      token_expiry: 'minutes=30',
      subject: 'authentik Sign-in code',
    },
    patch: { tokenExpiry: 'minutes=10' },
    patched: { token_expiry: 'minutes=10' },
  },
  {
    method: 'stagesAuthenticatorSms',
    request: 'AuthenticatorSMSStageRequest',
    component: 'AuthenticatorSMSStage',
    model: 'AuthenticatorSMSStage',
    create: { provider: 'twilio', fromNumber: '+15550000000', accountSid: 'AC1', auth: 'token' },
    defaults: { auth_type: 'basic', verify_only: false, mapping: null },
    patch: { verifyOnly: true },
    patched: { verify_only: true },
  },
  {
    method: 'stagesAuthenticatorDuo',
    request: 'AuthenticatorDuoStageRequest',
    component: 'AuthenticatorDuoStage',
    model: 'AuthenticatorDuoStage',
    create: { clientId: 'DIXXXXXXXXXXXXXXXXXX', clientSecret: 'secret', apiHostname: 'api-xxxxxxxx.duosecurity.com' },
    defaults: { friendly_name: '', admin_integration_key: '', configure_flow: null },
    patch: { friendlyName: 'Duo Mobile' },
    patched: { friendly_name: 'Duo Mobile' },
  },
];

/** the client's parameter name for a request body: `AuthenticatorTOTPStageRequest` → `authenticatorTOTPStageRequest` */
const lc = (s: string) => s[0]!.toLowerCase() + s.slice(1);

for (const dialect of dialects()) {
  describe(`contract: stages (${dialect})`, () => {
    let srv: TestServer;
    let api: ReturnType<typeof clients>['stages'] & Record<string, any>;
    before(async () => {
      srv = await startServer(dialect);
      api = clients(srv).stages as never;
    });
    after(async () => srv.close());

    for (const c of CASES) {
      it(`${c.component}: create, retrieve, list, update, partial update, used_by, destroy`, async () => {
        const name = `contract-${c.component}`;
        const created = await body(api[`${c.method}CreateRaw`]({ [lc(c.request)]: { name, ...c.create } }));
        assertMatches(c.component, created);
        assert.equal(created.name, name);
        for (const [k, v] of Object.entries(c.defaults)) assert.deepEqual(created[k], v, `default of ${k}`);
        assert.deepEqual(created.flow_set, []);
        assert.equal('private_key' in created, false);

        const got = await body(api[`${c.method}RetrieveRaw`]({ stageUuid: created.pk }));
        assertMatches(c.component, got);
        assert.deepEqual(got, created);

        const list = await body(api[`${c.method}ListRaw`]({ search: 'contract-', ordering: '-name', pageSize: 5 }));
        assertMatches(`Paginated${c.component}List`, list);
        assert.ok(list.results.some((r: { pk: string }) => r.pk === created.pk));

        const patched = await body(api[`${c.method}PartialUpdateRaw`]({ stageUuid: created.pk, [`patched${c.request}`]: c.patch }));
        assertMatches(c.component, patched);
        for (const [k, v] of Object.entries(c.patched)) assert.deepEqual(patched[k], v, `patched ${k}`);
        assert.equal(patched.name, name, 'PATCH leaves other fields');

        const put = await body(
          api[`${c.method}UpdateRaw`]({ stageUuid: created.pk, [lc(c.request)]: { name: `${name}-renamed`, ...c.create } }),
        );
        assertMatches(c.component, put);
        assert.equal(put.name, `${name}-renamed`);
        for (const [k, v] of Object.entries(c.patched)) if (!(k in snake(c.create))) assert.deepEqual(put[k], v, `PUT keeps omitted ${k}`);

        const usedBy = await body(api[`${c.method}UsedByListRaw`]({ stageUuid: created.pk }));
        assertArrayOf('UsedBy', usedBy);

        assert.equal(await status(api[`${c.method}DestroyRaw`]({ stageUuid: created.pk })), 204);
        const gone = await failure(api[`${c.method}RetrieveRaw`]({ stageUuid: created.pk }));
        assert.equal(gone.status, 404);
        assert.deepEqual(gone.body, { detail: `No ${c.model} matches the given query.` });
      });
    }

    it('stage names are unique across all stage types', async () => {
      await api.stagesDummyCreateRaw({ dummyStageRequest: { name: 'shared-name' } });
      const dup = await failure(api.stagesDenyCreateRaw({ denyStageRequest: { name: 'shared-name' } }));
      assert.equal(dup.status, 400);
      assert.deepEqual(dup.body, { name: ['stage with this name already exists.'] });
    });

    it('/stages/all/: list, retrieve, types, used_by, destroy', async () => {
      const d = await body(api.stagesDenyCreateRaw({ denyStageRequest: { name: 'all-deny' } }));
      const list = await body(api.stagesAllListRaw({ name: 'all-deny' }));
      assertMatches('PaginatedStageList', list);
      assert.equal(list.pagination.count, 1);
      assert.equal(list.results[0].component, 'ak-stage-deny-form');
      assert.equal(list.results[0].meta_model_name, 'authentik_stages_deny.denystage');
      const one = await body(api.stagesAllRetrieveRaw({ stageUuid: d.pk }));
      assertMatches('Stage', one);
      assert.equal(one.verbose_name, 'Deny Stage');
      const types = await body(api.stagesAllTypesListRaw());
      assertArrayOf('TypeCreate', types);
      const names = types.map((t: { name: string }) => t.name);
      assert.deepEqual(
        names,
        [...names].sort((a: string, b: string) => a.localeCompare(b)),
      );
      for (const n of [
        'Identification Stage',
        'Captcha Stage',
        'Authenticator Validation Stage',
        'Password Stage',
        'User Login Stage',
        'Deny Stage',
        'TOTP Authenticator Setup Stage',
        'Static Authenticator Setup Stage',
        'WebAuthn Authenticator Setup Stage',
      ])
        assert.ok(names.includes(n), n);
      assertArrayOf('UsedBy', await body(api.stagesAllUsedByListRaw({ stageUuid: d.pk })));
      assert.equal(await status(api.stagesAllDestroyRaw({ stageUuid: d.pk })), 204);
      assert.equal((await failure(api.stagesAllRetrieveRaw({ stageUuid: d.pk }))).body.detail, 'No Stage matches the given query.');
    });

    it('deleting a password stage nulls identification.password_stage (and used_by said so)', async () => {
      const pw = await body(
        api.stagesPasswordCreateRaw({
          passwordStageRequest: { name: 'cascade-pw', backends: ['authentik.core.auth.InbuiltBackend' as never] },
        }),
      );
      const id = await body(
        api.stagesIdentificationCreateRaw({
          identificationStageRequest: { name: 'cascade-id', userFields: ['username' as never], passwordStage: pw.pk },
        }),
      );
      const usedBy = await body(api.stagesPasswordUsedByListRaw({ stageUuid: pw.pk }));
      assert.deepEqual(usedBy, [
        {
          app: 'authentik_stages_identification',
          model_name: 'identificationstage',
          pk: id.pk,
          name: 'Stage cascade-id',
          action: 'set_null',
        },
      ]);
      await api.stagesPasswordDestroyRaw({ stageUuid: pw.pk });
      const after = await body(api.stagesIdentificationRetrieveRaw({ stageUuid: id.pk }));
      assert.equal(after.password_stage, null);
    });

    it('setup stages validate like authentik: digits required, token_length ≤ 100, null friendly_name from old clients stored as ""', async () => {
      const noDigits = await failure(
        api.stagesAuthenticatorTotpCreateRaw({ authenticatorTOTPStageRequest: { name: 'totp-no-digits' } as never }),
      );
      assert.deepEqual(noDigits.body, { digits: ['This field is required.'] });
      const long = await failure(
        api.stagesAuthenticatorStaticCreateRaw({ authenticatorStaticStageRequest: { name: 'static-long', tokenLength: 101 } }),
      );
      assert.deepEqual(long.body, { token_length: ['Ensure this value is less than or equal to 100.'] });
      const old = await fetch(`${srv.api}/stages/authenticator/totp/`, {
        method: 'POST',
        headers: { authorization: `Bearer ${srv.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'totp-old-client', digits: 8, friendly_name: null }),
      });
      const created = await old.json();
      assert.equal(old.status, 201);
      assert.equal(created.friendly_name, '');
      assert.equal(created.digits, '8');
    });

    it('validation errors come in DRF shape', async () => {
      const r = await failure(
        api.stagesAuthenticatorValidateCreateRaw({
          authenticatorValidateStageRequest: { name: 'v-bad', notConfiguredAction: 'configure' as never },
        }),
      );
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, {
        not_configured_action: ['When "Not configured action" is set to "Configure", you must set a configuration stage.'],
      });
      const id = await failure(api.stagesIdentificationCreateRaw({ identificationStageRequest: { name: 'id-bad', userFields: [] } }));
      assert.deepEqual(id.body, { non_field_errors: ['When no user fields are selected, at least one source must be selected'] });
    });
  });
}

function snake(o: Record<string, unknown>) {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`), v]));
}

for (const dialect of dialects()) {
  describe(`contract: WebAuthn device types (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv.close());

    it('lists the seeded authenticator models; restrictions reference them', async () => {
      const api = clients(srv).stages;
      const list = await body(api.stagesAuthenticatorWebauthnDeviceTypesListRaw({ search: 'yubikey', pageSize: 50 }));
      assertMatches('PaginatedWebAuthnDeviceTypeList', list);
      assert.ok(list.results.length >= 2);
      assert.ok(list.results.every((t: { description: string }) => /yubikey/i.test(t.description)));
      const one = await body(api.stagesAuthenticatorWebauthnDeviceTypesRetrieveRaw({ aaguid: 'cb69481e-8ff7-4039-93ec-0a2729a154a8' }));
      assertMatches('WebAuthnDeviceType', one);
      assert.equal(one.description, 'YubiKey 5 Series');
      const v = await body(
        api.stagesAuthenticatorValidateCreateRaw({
          authenticatorValidateStageRequest: { name: 'only-yubikeys', webauthnAllowedDeviceTypes: [one.aaguid] },
        }),
      );
      assert.deepEqual(v.webauthn_allowed_device_types_obj, [{ aaguid: one.aaguid, description: 'YubiKey 5 Series' }]);
      const w = await body(
        api.stagesAuthenticatorWebauthnCreateRaw({
          authenticatorWebAuthnStageRequest: { name: 'setup-yubikeys', deviceTypeRestrictions: [one.aaguid] },
        }),
      );
      assertMatches('AuthenticatorWebAuthnStage', w);
      assert.equal(w.device_type_restrictions_obj[0].description, 'YubiKey 5 Series');
    });
  });
}
