/**
 * Security: generated bodies against every write endpoint and every executor challenge. Whatever arrives: no 5xx,
 * no unhandled rejection, and a rejected write leaves the database unchanged.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { call, startServer, type TestServer } from '../helpers/server.js';
import { FlowClient } from '../helpers/flow-client.js';
import { addTotpDevice } from '../helpers/devices.js';

const TABLES = [
  'stages',
  'flows',
  'flow_bindings',
  'users',
  'tokens',
  'user_groups',
  'groups',
  'group_parents',
  'group_roles',
  'stage_identification',
  'stage_captcha',
  'stage_password',
] as const;

async function snapshot(srv: TestServer): Promise<string> {
  const counts: number[] = [];
  for (const t of TABLES) {
    const r = await srv.app.store.db
      .selectFrom(t as 'stages')
      .select((eb) => eb.fn.countAll<number>().as('c'))
      .executeTakeFirstOrThrow();
    counts.push(Number(r.c));
  }
  return counts.join(',');
}

/** JSON values with the field names the endpoints know, so validation paths are exercised, not just "unknown key" */
function bodies(fields: string[]) {
  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.string({ maxLength: 300 }),
    fc.uuid(),
    fc.constantFrom(
      '',
      'seconds=0',
      'hours=1;minutes=2',
      'bad=duration',
      'username',
      'email',
      'totp',
      'skip',
      'configure',
      '6',
      'x'.repeat(5000),
    ),
    fc.array(fc.oneof(fc.string({ maxLength: 20 }), fc.uuid(), fc.integer()), { maxLength: 5 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
  );
  return fc.oneof(fc.dictionary(fc.constantFrom(...fields), value, { maxKeys: fields.length }), fc.jsonValue({ maxDepth: 3 }));
}

describe('security: fuzzed request bodies', () => {
  let srv: TestServer;
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);

  before(async () => {
    srv = await startServer('sqlite', { lockout: { accountIpLimit: 1e6, accountLimit: 1e6, ipLimit: 1e6, slowAfter: 1e6 } });
    process.on('unhandledRejection', onUnhandled);
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await srv.close();
  });

  const endpoints: { path: string; fields: string[] }[] = [
    {
      path: '/stages/identification/',
      fields: [
        'name',
        'user_fields',
        'password_stage',
        'captcha_stage',
        'case_insensitive_matching',
        'sources',
        'pretend_user_exists',
        'enrollment_flow',
        'flow_set',
        'webauthn_stage',
      ],
    },
    {
      path: '/stages/captcha/',
      fields: [
        'name',
        'public_key',
        'private_key',
        'js_url',
        'api_url',
        'score_min_threshold',
        'interactive',
        'request_content_type',
        'flow_set',
      ],
    },
    {
      path: '/stages/authenticator/validate/',
      fields: [
        'name',
        'device_classes',
        'not_configured_action',
        'configuration_stages',
        'last_auth_threshold',
        'webauthn_allowed_device_types',
        'totp_otp_throttling_factor',
      ],
    },
    { path: '/stages/password/', fields: ['name', 'backends', 'configure_flow', 'failed_attempts_before_cancel', 'allow_show_password'] },
    {
      path: '/stages/user_login/',
      fields: ['name', 'session_duration', 'remember_me_offset', 'network_binding', 'terminate_other_sessions'],
    },
    { path: '/stages/deny/', fields: ['name', 'deny_message'] },
    { path: '/stages/dummy/', fields: ['name', 'throw_error'] },
    {
      path: '/flows/instances/',
      fields: ['name', 'slug', 'title', 'designation', 'layout', 'background', 'denied_action', 'authentication', 'compatibility_mode'],
    },
    {
      path: '/flows/bindings/',
      fields: ['target', 'stage', 'order', 'evaluate_on_plan', 're_evaluate_policies', 'invalid_response_action'],
    },
    {
      path: '/core/users/',
      fields: ['username', 'name', 'email', 'is_active', 'groups', 'roles', 'attributes', 'path', 'type', 'last_login'],
    },
    { path: '/core/tokens/', fields: ['identifier', 'intent', 'user', 'description', 'expires', 'expiring', 'managed'] },
    { path: '/core/groups/', fields: ['name', 'is_superuser', 'parents', 'users', 'attributes', 'roles', 'children'] },
  ];

  for (const ep of endpoints) {
    it(`POST ${ep.path}: never 5xx, a rejection writes nothing`, async () => {
      await fc.assert(
        fc.asyncProperty(bodies(ep.fields), async (body) => {
          const before = await snapshot(srv);
          const r = await call(srv, 'POST', ep.path, JSON.stringify(body));
          assert.ok(r.status < 500, `${r.status} for ${JSON.stringify(body).slice(0, 200)}`);
          if (r.status >= 400) assert.equal(await snapshot(srv), before, 'a rejected write changed the database');
          if (r.status === 201 && ep.path.startsWith('/stages/')) await call(srv, 'DELETE', `/stages/all/${r.body.pk}/`);
        }),
        { numRuns: 40, seed: 20261124 },
      );
    });
  }

  it('PATCH of existing objects: never 5xx, a rejection writes nothing', async () => {
    const d = await call(srv, 'POST', '/stages/identification/', { name: 'fuzz-target', user_fields: ['username'] });
    await fc.assert(
      fc.asyncProperty(bodies(endpoints[0]!.fields), async (body) => {
        const before = await srv.app.store.db
          .selectFrom('stage_identification' as 'stages')
          .selectAll()
          .where('stage_uuid', '=', d.body.pk as string)
          .executeTakeFirst();
        const r = await call(srv, 'PATCH', `/stages/identification/${d.body.pk}/`, JSON.stringify(body));
        assert.ok(r.status < 500, `${r.status} for ${JSON.stringify(body).slice(0, 200)}`);
        if (r.status >= 400) {
          const after = await srv.app.store.db
            .selectFrom('stage_identification' as 'stages')
            .selectAll()
            .where('stage_uuid', '=', d.body.pk as string)
            .executeTakeFirst();
          assert.deepEqual(after, before);
        }
      }),
      { numRuns: 60, seed: 7 },
    );
  });

  const challenges: { component: string; fields: string[]; setup: (c: FlowClient) => Promise<void> }[] = [
    {
      component: 'ak-stage-identification',
      fields: ['uid_field', 'password', 'captcha_token', 'passkey', 'component'],
      setup: async () => {},
    },
    {
      component: 'ak-stage-password',
      fields: ['password', 'component'],
      setup: async (c) => void (await c.post({ component: 'ak-stage-identification', uid_field: 'akadmin' })),
    },
    {
      component: 'ak-stage-authenticator-validate',
      fields: ['code', 'webauthn', 'selected_challenge', 'selected_stage', 'duo', 'component'],
      setup: async (c) => {
        await c.post({ component: 'ak-stage-identification', uid_field: 'akadmin' });
        await c.post({ component: 'ak-stage-password', password: 'correct horse battery staple' });
      },
    },
  ];

  for (const ch of challenges) {
    it(`executor ${ch.component}: any body gets HTTP 200 with a challenge`, async () => {
      // a device so the validation stage shows a challenge instead of being skipped
      if (ch.component === 'ak-stage-authenticator-validate') {
        await addTotpDevice(srv.app.store.db, 1, { name: 'fuzz' });
      }
      await fc.assert(
        fc.asyncProperty(bodies(ch.fields), async (body) => {
          const c = new FlowClient(srv);
          await c.get();
          await ch.setup(c);
          const r = await c.request('POST', body);
          assert.equal(r.status, 200, JSON.stringify(body).slice(0, 200));
          assert.equal(typeof r.body.component, 'string');
        }),
        { numRuns: 30, seed: 99 },
      );
    });
  }

  it('left no unhandled promise rejection behind', () => {
    assert.deepEqual(unhandled, []);
  });
});
