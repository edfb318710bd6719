/**
 * Object attributes (authentik's `/core/object_attributes/`): the schema of users' and groups' `attributes`, managed
 * through the official client with authentik's checks, and enforced when users and groups are written through the
 * API — required, type (text, number, boolean as DRF takes them), pattern, uniqueness (the object itself excepted),
 * dotted paths, disabled attributes not enforced — with authentik's messages on `attributes_<key>`, on both databases.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { CoreApi } from '@goauthentik/api/dist/apis/CoreApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';

for (const dialect of dialects()) {
  describe(`object attributes (${dialect})`, () => {
    let srv: TestServer;
    let core: CoreApi;
    before(async () => {
      srv = await startServer(dialect);
      core = new CoreApi(new Configuration({ basePath: srv.api, headers: { authorization: `Bearer ${srv.token}` } }));
    });
    after(async () => srv?.close());

    it("is managed through the official client with authentik's checks", async () => {
      const a = await core.coreObjectAttributesCreate({
        objectAttributeRequest: {
          objectType: 'authentik_core.user',
          key: 'employee.id',
          label: 'Employee ID',
          type: 'text',
          regex: '^E\\d{4}$',
          isRequired: true,
          isUnique: true,
          group: 'HR',
        },
      });
      assert.equal(a.enabled, true);
      assert.deepEqual(
        { ...a.objectTypeObj },
        { id: 1, appLabel: 'authentik_core', model: 'user', verboseNamePlural: 'Users', fullyQualifiedModel: 'authentik_core.user' },
      );
      assert.equal((await core.coreObjectAttributesRetrieve({ attributeId: a.pk })).key, 'employee.id');
      await core.coreObjectAttributesCreate({
        objectAttributeRequest: { objectType: 'authentik_core.group', key: 'level', label: 'Level', type: 'number' },
      });
      await core.coreObjectAttributesCreate({
        objectAttributeRequest: { objectType: 'authentik_core.group', key: 'billable', label: 'Billable', type: 'boolean' },
      });
      await core.coreObjectAttributesCreate({
        objectAttributeRequest: {
          objectType: 'authentik_core.user',
          key: 'legacy',
          label: 'Legacy',
          type: 'number',
          isRequired: true,
          enabled: false,
        },
      });

      const post = (body: Record<string, unknown>) => call(srv, 'POST', '/core/object_attributes/', body);
      const base = { object_type: 'authentik_core.user', key: 'x', label: 'X', type: 'text' };
      for (const [body, expected] of [
        [{ ...base, object_type: 'authentik_core.application' }, { object_type: ['Invalid object type'] }],
        [{ ...base, object_type: 'nothing' }, { object_type: ['Invalid object type'] }],
        [{ ...base, key: 'employee.id' }, { non_field_errors: ['The fields object_type, key, enabled must make a unique set.'] }],
        [{ ...base, type: 'date' }, { type: ['"date" is not a valid choice.'] }],
      ] as const) {
        const r = await post(body);
        assert.deepEqual([r.status, r.body], [400, expected], JSON.stringify(body));
      }
      const regex = await post({ ...base, regex: '(unclosed' });
      assert.equal(regex.status, 400);
      assert.match(regex.body.regex[0], /^Invalid regular expression/);

      const keys = async (q: Parameters<CoreApi['coreObjectAttributesList']>[0]) =>
        (await core.coreObjectAttributesList(q)).results.map((r) => r.key);
      assert.deepEqual(await keys({}), ['billable', 'employee.id', 'legacy', 'level']);
      assert.deepEqual(await keys({ objectTypeModel: 'group' }), ['billable', 'level']);
      assert.deepEqual(await keys({ objectTypeAppLabel: 'authentik_rbac' }), []);
      assert.deepEqual(await keys({ enabled: false }), ['legacy']);
      assert.deepEqual(await keys({ search: 'HR' }), ['employee.id']);
    });

    it('users: required, pattern and unique at a dotted path; the user itself is no duplicate; a disabled attribute is not enforced', async () => {
      const user = (username: string, attributes?: unknown) =>
        call(srv, 'POST', '/core/users/', { username, name: username, ...(attributes === undefined ? {} : { attributes }) });
      const missing = await user('attr-a');
      assert.deepEqual([missing.status, missing.body], [400, { 'attributes_employee.id': ['This field is required'] }]);
      const pattern = await user('attr-a', { employee: { id: 'E12' } });
      assert.deepEqual([pattern.status, pattern.body], [400, { 'attributes_employee.id': ['Value does not match configured pattern.'] }]);
      const wrongType = await user('attr-a', { employee: { id: ['E1234'] } });
      assert.deepEqual([wrongType.status, wrongType.body], [400, { 'attributes_employee.id': ['Not a valid string.'] }]);
      const ok = await user('attr-a', { employee: { id: 'E1234' } });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      // several at once for one value: one is written
      const racing = await Promise.all(['attr-r1', 'attr-r2', 'attr-r3', 'attr-r4'].map((u) => user(u, { employee: { id: 'E7777' } })));
      assert.deepEqual(racing.map((r) => r.status).sort(), [201, 400, 400, 400]);
      for (const r of racing.filter((x) => x.status === 400))
        assert.deepEqual(r.body, { 'attributes_employee.id': ['Value is not unique.'] });
      const twice = await user('attr-b', { employee: { id: 'E1234' } });
      assert.deepEqual([twice.status, twice.body], [400, { 'attributes_employee.id': ['Value is not unique.'] }]);
      assert.equal((await call(srv, 'GET', '/core/users/?username=attr-b')).body.results.length, 0, 'nothing written');
      // the user's own value is no duplicate; a write without attributes does not check them
      const same = await call(srv, 'PATCH', `/core/users/${ok.body.pk}/`, { attributes: { employee: { id: 'E1234' }, note: 'x' } });
      assert.equal(same.status, 200, JSON.stringify(same.body));
      assert.equal((await call(srv, 'PATCH', `/core/users/${ok.body.pk}/`, { name: 'Renamed' })).status, 200);
      const cleared = await call(srv, 'PATCH', `/core/users/${ok.body.pk}/`, { attributes: {} });
      assert.deepEqual([cleared.status, cleared.body], [400, { 'attributes_employee.id': ['This field is required'] }]);
      assert.deepEqual((await call(srv, 'GET', `/core/users/${ok.body.pk}/`)).body.attributes, { employee: { id: 'E1234' }, note: 'x' });
    });

    it('groups: numbers and booleans as DRF takes them; a disabled attribute stops being enforced', async () => {
      const group = (name: string, attributes: unknown) => call(srv, 'POST', '/core/groups/', { name, attributes });
      for (const [attributes, expected] of [
        [{ level: 'high' }, { attributes_level: ['A valid integer is required.'] }],
        [{ level: 1.5 }, { attributes_level: ['A valid integer is required.'] }],
        [{ level: true }, { attributes_level: ['A valid integer is required.'] }],
        [{ billable: 'maybe' }, { attributes_billable: ['Must be a valid boolean.'] }],
        [{ billable: 2 }, { attributes_billable: ['Must be a valid boolean.'] }],
      ] as const) {
        const r = await group('attr-group', attributes);
        assert.deepEqual([r.status, r.body], [400, expected], JSON.stringify(attributes));
      }
      for (const [i, attributes] of [
        { level: 3 },
        { level: '12' },
        { level: 4.0 },
        { billable: 'yes' },
        { billable: false },
        { billable: 1 },
      ].entries()) {
        const r = await group(`attr-group-${i}`, attributes);
        assert.equal(r.status, 201, `${JSON.stringify(attributes)}: ${JSON.stringify(r.body)}`);
      }
      const level = (await core.coreObjectAttributesList({ search: 'level' })).results[0]!;
      await core.coreObjectAttributesPartialUpdate({ attributeId: level.pk, patchedObjectAttributeRequest: { enabled: false } });
      assert.equal((await group('attr-group-free', { level: 'high' })).status, 201);
      await core.coreObjectAttributesDestroy({ attributeId: level.pk });
      assert.equal((await core.coreObjectAttributesList({ search: 'level' })).results.length, 0);
    });
  });
}
