/**
 * `/stages/prompt/prompts/` (with `preview/`) and `/stages/prompt/stages/` through the official client and raw HTTP:
 * bodies checked against authentik's components, defaults, field errors as authentik answers them (400, never 500),
 * filters, used_by both ways, and a deleted prompt or policy leaving the stage's lists.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { assertArrayOf, assertMatches } from '../../helpers/openapi-schema.js';
import { body, clients, failure, status } from '../../rest/contract/client.js';

for (const dialect of dialects()) {
  describe(`prompt stage API (${dialect})`, () => {
    let srv: TestServer;
    let api: ReturnType<typeof clients>['stages'];
    before(async () => {
      srv = await startServer(dialect);
      api = clients(srv).stages;
    });
    after(async () => srv.close());

    it('prompts: create with defaults, retrieve, list with filters, update, patch, destroy (official client)', async () => {
      const created = await body(
        api.stagesPromptPromptsCreateRaw({
          promptRequest: { name: 'api-nick', fieldKey: 'attributes.nickname', label: 'Nickname', type: 'text' },
        }),
      );
      assertMatches('Prompt', created);
      assert.deepEqual(
        { ...created, pk: undefined },
        {
          pk: undefined,
          name: 'api-nick',
          field_key: 'attributes.nickname',
          label: 'Nickname',
          type: 'text',
          required: true,
          placeholder: '',
          initial_value: '',
          order: 0,
          prompt_stages_obj: [],
          sub_text: '',
          placeholder_expression: false,
          initial_value_expression: false,
        },
      );
      assert.deepEqual(await body(api.stagesPromptPromptsRetrieveRaw({ promptUuid: created.pk })), created);

      const list = await body(api.stagesPromptPromptsListRaw({ fieldKey: 'attributes.nickname' }));
      assertMatches('PaginatedPromptList', list);
      assert.deepEqual(
        list.results.map((p: { name: string }) => p.name),
        ['api-nick'],
      );
      assert.equal((await body(api.stagesPromptPromptsListRaw({ type: 'email', name: 'api-nick' }))).results.length, 0);
      assert.equal((await body(api.stagesPromptPromptsListRaw({ search: 'nickname' }))).results.length, 1);

      const patched = await body(
        api.stagesPromptPromptsPartialUpdateRaw({
          promptUuid: created.pk,
          patchedPromptRequest: { required: false, order: 7, subText: 'Shown to others' },
        }),
      );
      assert.equal(patched.required, false);
      assert.equal(patched.order, 7);
      assert.equal(patched.sub_text, 'Shown to others');
      assert.equal(patched.label, 'Nickname', 'PATCH leaves the rest');
      const put = await body(
        api.stagesPromptPromptsUpdateRaw({
          promptUuid: created.pk,
          promptRequest: { name: 'api-nick', fieldKey: 'attributes.nickname', label: 'Nick', type: 'text_area' },
        }),
      );
      assert.equal(put.type, 'text_area');
      assert.equal(put.required, false, 'PUT keeps omitted fields');
      assert.equal(await status(api.stagesPromptPromptsDestroyRaw({ promptUuid: created.pk })), 204);
      const gone = await failure(api.stagesPromptPromptsRetrieveRaw({ promptUuid: created.pk }));
      assert.deepEqual(gone, { status: 404, body: { detail: 'No Prompt matches the given query.' } });
    });

    it('prompts: bad input is a 400 with field errors, never a 500 (raw HTTP)', async () => {
      const missing = await call(srv, 'POST', '/stages/prompt/prompts/', {});
      assert.equal(missing.status, 400);
      assert.deepEqual(missing.body, {
        name: ['This field is required.'],
        field_key: ['This field is required.'],
        label: ['This field is required.'],
        type: ['This field is required.'],
      });
      const wrong = await call(srv, 'POST', '/stages/prompt/prompts/', {
        name: 'bad',
        field_key: '',
        label: ['x'],
        type: 'colour',
        required: 'maybe',
        order: 'first',
        placeholder_expression: 3,
      });
      assert.equal(wrong.status, 400);
      assert.deepEqual(wrong.body, {
        field_key: ['This field may not be blank.'],
        label: ['Not a valid string.'],
        type: ['"colour" is not a valid choice.'],
        required: ['Must be a valid boolean.'],
        order: ['A valid integer is required.'],
        placeholder_expression: ['Must be a valid boolean.'],
      });
      assert.equal(
        (await call(srv, 'POST', '/stages/prompt/prompts/', { name: 'dup', field_key: 'a', label: 'A', type: 'text' })).status,
        201,
      );
      const dup = await call(srv, 'POST', '/stages/prompt/prompts/', { name: 'dup', field_key: 'b', label: 'B', type: 'text' });
      assert.deepEqual(dup, { ...dup, status: 400, body: { name: ['Prompt with this name already exists.'] } });
      for (const b of ['[]', '"text"', 'not json']) assert.equal((await call(srv, 'POST', '/stages/prompt/prompts/', b)).status, 400, b);
      assert.equal((await call(srv, 'GET', '/stages/prompt/prompts/?type=colour')).status, 400);
      assert.equal((await call(srv, 'GET', '/stages/prompt/prompts/not-a-uuid/')).status, 404);
    });

    it('preview: a literal prompt, an expression evaluated with the caller as `user`, choices; a failing expression is a 400', async () => {
      const literal = await body(
        api.stagesPromptPromptsPreviewCreateRaw({
          promptRequest: { name: 'ignored', fieldKey: 'email', label: 'E-mail', type: 'email', placeholder: 'you@example.com' },
        }),
      );
      assertMatches('PromptChallenge', literal);
      assert.deepEqual(literal, {
        component: 'ak-stage-prompt',
        fields: [
          {
            field_key: 'email',
            label: 'E-mail',
            type: 'email',
            required: true,
            placeholder: 'you@example.com',
            initial_value: '',
            order: 0,
            sub_text: '',
            choices: null,
          },
        ],
      });
      const expr = await call(srv, 'POST', '/stages/prompt/prompts/preview/', {
        name: 'x',
        field_key: 'username',
        label: 'Username',
        type: 'text',
        placeholder: 'return "hello " + user.username',
        placeholder_expression: true,
        initial_value: 'return 6 * 7',
        initial_value_expression: true,
      });
      assert.equal(expr.status, 200, JSON.stringify(expr.body));
      assert.equal(expr.body.fields[0].placeholder, 'hello akadmin');
      assert.equal(expr.body.fields[0].initial_value, '42');
      const choices = await call(srv, 'POST', '/stages/prompt/prompts/preview/', {
        name: 'x',
        field_key: 'colour',
        label: 'Colour',
        type: 'radio-button-group',
        placeholder: 'return ["red", {"value": "g", "label": "Green"}]',
        placeholder_expression: true,
        initial_value: 'g',
      });
      assert.deepEqual(choices.body.fields[0].choices, [
        { value: 'red', label: 'red' },
        { value: 'g', label: 'Green' },
      ]);
      assert.equal(choices.body.fields[0].initial_value, 'g');
      assert.equal(choices.body.fields[0].placeholder, '', "a choice field's placeholder is its choices");
      const failing = await call(srv, 'POST', '/stages/prompt/prompts/preview/', {
        name: 'x',
        field_key: 'k',
        label: 'K',
        type: 'text',
        initial_value: 'return undefined_name',
        initial_value_expression: true,
      });
      assert.equal(failing.status, 400);
      assert.match(failing.body.non_field_errors[0], /NameError: name 'undefined_name' is not defined/);
      const invalid = await call(srv, 'POST', '/stages/prompt/prompts/preview/', { field_key: 'k', type: 'nope' });
      assert.equal(invalid.status, 400);
      assert.deepEqual(invalid.body, { label: ['This field is required.'], type: ['"nope" is not a valid choice.'] });
    });

    it('prompt stages: fields and validation policies in order, prompt_stages_obj, filters, used_by, deletions', async () => {
      const mk = async (name: string, field_key: string) =>
        (await call(srv, 'POST', '/stages/prompt/prompts/', { name, field_key, label: field_key, type: 'text' })).body.pk as string;
      const a = await mk('ps-a', 'a');
      const b = await mk('ps-b', 'b');
      const policy = (await call(srv, 'POST', '/policies/dummy/', { name: 'ps-policy', result: true })).body.pk as string;
      const stage = await body(
        api.stagesPromptStagesCreateRaw({ promptStageRequest: { name: 'ps-stage', fields: [b, a], validationPolicies: [policy] } }),
      );
      assertMatches('PromptStage', stage);
      assert.deepEqual(stage.fields, [b, a]);
      assert.deepEqual(stage.validation_policies, [policy]);
      assert.equal(stage.component, 'ak-stage-prompt-form');
      assert.equal(stage.meta_model_name, 'authentik_stages_prompt.promptstage');

      const defaults = await call(srv, 'POST', '/stages/prompt/stages/', { name: 'ps-empty', fields: [] });
      assert.equal(defaults.status, 201);
      assert.deepEqual(defaults.body.validation_policies, []);
      const noFields = await call(srv, 'POST', '/stages/prompt/stages/', { name: 'ps-nofields' });
      assert.deepEqual(noFields.body, { fields: ['This field is required.'] });
      const ghost = await call(srv, 'POST', '/stages/prompt/stages/', {
        name: 'ps-ghost',
        fields: ['00000000-0000-4000-8000-000000000000'],
      });
      assert.deepEqual(ghost.body, { fields: ['Invalid pk "00000000-0000-4000-8000-000000000000" - object does not exist.'] });
      const notList = await call(srv, 'POST', '/stages/prompt/stages/', { name: 'ps-bad', fields: 'a', validation_policies: ['x'] });
      assert.deepEqual(notList.body, {
        fields: ['Expected a list of items but got type "str".'],
        validation_policies: ['“x” is not a valid UUID.'],
      });

      const prompt = await body(api.stagesPromptPromptsRetrieveRaw({ promptUuid: a }));
      assert.deepEqual(
        prompt.prompt_stages_obj.map((s: { name: string }) => s.name),
        ['ps-stage'],
      );
      assertMatches('PromptStage', prompt.prompt_stages_obj[0]);
      const byField = await body(api.stagesPromptStagesListRaw({ fields: [a] }));
      assert.deepEqual(
        byField.results.map((s: { name: string }) => s.name),
        ['ps-stage'],
      );
      assert.equal((await body(api.stagesPromptStagesListRaw({ validationPolicies: [policy] }))).results.length, 1);

      const promptUsedBy = await body(api.stagesPromptPromptsUsedByListRaw({ promptUuid: a }));
      assertArrayOf('UsedBy', promptUsedBy);
      assert.deepEqual(promptUsedBy, [
        { app: 'authentik_stages_prompt', model_name: 'promptstage', pk: stage.pk, name: 'Stage ps-stage', action: 'cascade_many' },
      ]);
      const policyUsedBy = (await call(srv, 'GET', `/policies/all/${policy}/used_by/`)).body;
      assert.ok(policyUsedBy.some((u: { pk: string; action: string }) => u.pk === stage.pk && u.action === 'cascade_many'));
      assert.equal((await call(srv, 'GET', `/policies/all/?promptstage__isnull=false&search=ps-policy`)).body.results.length, 1);
      assert.equal((await call(srv, 'GET', `/policies/all/?promptstage__isnull=true&search=ps-policy`)).body.results.length, 0);
      const stageUsedBy = await body(api.stagesPromptStagesUsedByListRaw({ stageUuid: stage.pk }));
      assert.deepEqual(
        stageUsedBy.map((u: { model_name: string; action: string }) => `${u.model_name}:${u.action}`),
        ['prompt:cascade_many', 'prompt:cascade_many', 'policy:cascade_many'],
      );

      // a deleted prompt or policy leaves the stage's lists; the stage stays
      assert.equal((await call(srv, 'DELETE', `/stages/prompt/prompts/${b}/`)).status, 204);
      assert.equal((await call(srv, 'DELETE', `/policies/all/${policy}/`)).status, 204);
      const after = await body(api.stagesPromptStagesRetrieveRaw({ stageUuid: stage.pk }));
      assert.deepEqual(after.fields, [a]);
      assert.deepEqual(after.validation_policies, []);
      const put = await body(
        api.stagesPromptStagesUpdateRaw({ stageUuid: stage.pk, promptStageRequest: { name: 'ps-stage', fields: [] } }),
      );
      assert.deepEqual(put.fields, []);
      assert.equal(await status(api.stagesPromptStagesDestroyRaw({ stageUuid: stage.pk })), 204);
      assert.equal((await call(srv, 'GET', `/stages/prompt/prompts/${a}/`)).status, 200, 'the prompt outlives the stage');
    });

    it('a non-superuser gets 403', async () => {
      const u = await call(srv, 'POST', '/core/users/', { username: 'ps-plain', name: 'Plain' });
      const t = await call(srv, 'POST', '/core/tokens/', { identifier: 'ps-plain-token', user: u.body.pk, intent: 'api' });
      const key = (await call(srv, 'GET', `/core/tokens/${t.body.identifier}/view_key/`)).body.key as string;
      const as = { ...srv, token: key };
      assert.equal((await call(as, 'GET', '/stages/prompt/prompts/')).status, 403);
      assert.equal((await call(as, 'POST', '/stages/prompt/prompts/preview/', { field_key: 'a', label: 'a', type: 'text' })).status, 403);
      assert.equal((await call(as, 'GET', '/stages/prompt/stages/')).status, 403);
    });
  });
}
