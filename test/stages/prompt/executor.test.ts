/**
 * The prompt stage through the flow executor: every field type's validation with DRF's messages, fixed fields
 * (hidden, static, read-only) that a response cannot change, optional fields and initial values, placeholders,
 * initial values and choices from Python (with the pending user, and the prompt data so far), password pairs,
 * validation policies (their messages under the field a password policy checks, else as non-field errors), and the
 * password policy reading the prompt data when bound in a flow.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { Browser } from '../../helpers/browser.js';
import { bindingOf, createStage, createUser, defaultStages, flowOf, sessionRow } from '../../helpers/flows.js';

type PromptSpec = Record<string, unknown> & { field_key: string; type: string };

let n = 0;

for (const dialect of dialects()) {
  describe(`prompt stage at run time (${dialect})`, () => {
    let srv: TestServer;
    let dummy: string;
    before(async () => {
      srv = await startServer(dialect);
      dummy = await createStage(srv, '/stages/dummy/', { name: 'pe-dummy' });
      await createUser(srv, 'existing', 'existing-pass-1', { email: 'existing@example.com', name: 'Existing Person' });
    });
    after(async () => srv.close());

    async function promptStage(prompts: PromptSpec[], extra: Record<string, unknown> = {}): Promise<string> {
      const fields: string[] = [];
      for (const p of prompts) {
        const r = await call(srv, 'POST', '/stages/prompt/prompts/', { name: `pe-${++n}`, label: p.field_key, ...p });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        fields.push(r.body.pk);
      }
      return createStage(srv, '/stages/prompt/stages/', { name: `pe-stage-${++n}`, fields, ...extra });
    }

    /** a flow [prompt stage(s)…, dummy]: the dummy's challenge shows that the prompts passed, the plan keeps prompt_data */
    async function flowWith(stages: string[]): Promise<string> {
      return flowOf(srv, `pe-flow-${++n}`, [...stages, dummy], { designation: 'enrollment' });
    }

    const promptData = async (b: Browser) => (await sessionRow(srv, b.session))?.data.plan?.context.promptData;
    const post = (b: Browser, slug: string, body: Record<string, unknown>) =>
      b.solve(slug, { component: 'ak-stage-prompt', ...body } as never);
    const err = (string: string, code = 'invalid') => [{ string, code }];

    it("every field type's validation, with DRF's messages and codes", async () => {
      const stage = await promptStage([
        { field_key: 'text', type: 'text' },
        { field_key: 'username', type: 'username' },
        { field_key: 'email', type: 'email' },
        { field_key: 'number', type: 'number' },
        { field_key: 'check', type: 'checkbox' },
        { field_key: 'radio', type: 'radio-button-group', placeholder: 'return ["a", "b"]', placeholder_expression: true },
        { field_key: 'drop', type: 'dropdown', placeholder: 'only' },
        { field_key: 'date', type: 'date' },
        { field_key: 'when', type: 'date-time' },
        { field_key: 'file', type: 'file' },
        { field_key: 'locale', type: 'ak-locale', required: false },
        { field_key: 'area', type: 'text_area' },
      ]);
      const slug = await flowWith([stage]);
      const b = new Browser(srv.api);
      const first = await b.get(slug);
      assert.equal(first.body.component, 'ak-stage-prompt');
      const radio = first.body.fields.find((f: { field_key: string }) => f.field_key === 'radio');
      assert.deepEqual(radio.choices, [
        { value: 'a', label: 'a' },
        { value: 'b', label: 'b' },
      ]);
      assert.equal(radio.initial_value, 'a', "a choice field's initial value is one of its choices");

      const missing = await post(b, slug, {});
      // choice fields have their first choice as default, checkboxes are never required, locale is optional
      assert.deepEqual(Object.keys(missing.body.response_errors).sort(), [
        'area',
        'date',
        'email',
        'file',
        'number',
        'text',
        'username',
        'when',
      ]);
      assert.deepEqual(missing.body.response_errors.text, err('This field is required.', 'required'));

      const bad = await post(b, slug, {
        text: true,
        username: 'existing',
        email: 'not-an-address',
        number: '1.5',
        check: 'perhaps',
        radio: 'c',
        drop: 'other',
        date: '2024-02-30',
        when: 'yesterday',
        file: 'https://example.com/x.png',
        locale: null,
        area: '',
      });
      assert.deepEqual(bad.body.response_errors, {
        text: err('Not a valid string.'),
        username: err('Username is already taken.'),
        email: err('Enter a valid email address.'),
        number: err('A valid integer is required.'),
        check: err('Must be a valid boolean.'),
        radio: err('"c" is not a valid choice.', 'invalid_choice'),
        drop: err('"other" is not a valid choice.', 'invalid_choice'),
        date: err('Date has wrong format. Use one of these formats instead: YYYY-MM-DD.'),
        when: err('Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].'),
        file: err('Invalid scheme'),
        locale: err('This field may not be null.', 'null'),
        area: err('This field may not be blank.', 'blank'),
      });
      const enc = await post(b, slug, { file: 'data:text/plain,hello' });
      assert.deepEqual(enc.body.response_errors.file, err('Invalid encoding'));
      const upper = await post(b, slug, { username: 'EXISTING' });
      assert.deepEqual(upper.body.response_errors.username, err('Username is already taken.'), 'whatever the case');
      const blank = await post(b, slug, { username: '   ' });
      assert.deepEqual(blank.body.response_errors.username, err('This field may not be blank.', 'blank'));

      const good = await post(b, slug, {
        text: '  spaced  ',
        username: ' newname ',
        email: ' someone@example.com ',
        number: '42',
        check: 'true',
        radio: 'b',
        drop: 'only',
        date: '2024-02-29',
        when: '2024-02-29T10:30',
        file: 'data:text/plain;base64,aGVsbG8=',
        area: 'line 1\nline 2',
        ignored: 'not a field',
      });
      assert.equal(good.body.component, 'ak-stage-dummy', JSON.stringify(good.body.response_errors));
      assert.deepEqual(await promptData(b), {
        text: '  spaced  ',
        username: 'newname',
        email: 'someone@example.com',
        number: 42,
        check: true,
        radio: 'b',
        drop: 'only',
        date: '2024-02-29',
        when: '2024-02-29T10:30:00.000Z',
        file: 'data:text/plain;base64,aGVsbG8=',
        area: 'line 1\nline 2',
      });
    });

    it('hidden, static and read-only fields hold the stage’s values whatever is sent; separators and alerts carry nothing typed', async () => {
      const stage = await promptStage([
        { field_key: 'source', type: 'hidden', placeholder: 'signup-page' },
        { field_key: 'hint', type: 'static', placeholder: 'Read this', required: false },
        { field_key: 'fixed', type: 'text_read_only', initial_value: 'fixed value' },
        { field_key: 'ro_empty', type: 'text_area_read_only' },
        { field_key: 'line', type: 'separator' },
        { field_key: 'note', type: 'alert_warning', initial_value: 'Careful' },
        { field_key: 'optional', type: 'text', required: false },
        { field_key: 'prefilled', type: 'text', initial_value: 'default text' },
      ]);
      const slug = await flowWith([stage]);
      const b = new Browser(srv.api);
      await b.get(slug);
      const r = await post(b, slug, {
        source: 'forged',
        hint: 'forged',
        fixed: 'forged',
        ro_empty: 'forged',
        line: 'forged',
        note: 'forged',
        optional: '',
      });
      assert.equal(r.body.component, 'ak-stage-dummy', JSON.stringify(r.body.response_errors));
      assert.deepEqual(await promptData(b), {
        source: 'signup-page',
        hint: 'Read this',
        fixed: 'fixed value',
        ro_empty: '',
        note: 'Careful',
        optional: '',
        prefilled: 'default text',
      });
    });

    it("expressions: the pending user's data, the prompt data so far (never evaluated), a failing expression falls back to its text", async () => {
      const s = await defaultStages(srv);
      const first = await promptStage([{ field_key: 'nick', type: 'text' }]);
      const second = await promptStage([
        { field_key: 'email', type: 'email', initial_value: 'return user.email', initial_value_expression: true },
        { field_key: 'greeting', type: 'text', placeholder: 'return f"Hello {user.name}"', placeholder_expression: true },
        {
          field_key: 'nick',
          type: 'text',
          initial_value: 'return "not used: the flow has a value"',
          initial_value_expression: true,
        },
        {
          field_key: 'echo',
          type: 'text',
          initial_value: 'return prompt_context["nick"].upper()',
          initial_value_expression: true,
        },
        { field_key: 'broken', type: 'text', required: false, initial_value: 'return 1/0', initial_value_expression: true },
        {
          field_key: 'pick',
          type: 'dropdown',
          placeholder: 'return [user.username, "other"]',
          placeholder_expression: true,
          initial_value: 'other',
        },
      ]);
      const slug = await flowWith([s.identification, first, second]);
      const b = new Browser(srv.api);
      await b.get(slug);
      await b.solve(slug, { component: 'ak-stage-identification', uidField: 'existing' });
      // the default identification stage hides the matched user (pretend), so the pending user is the real one
      const p1 = await post(b, slug, { nick: '{{ 7 * 7 }} __import__("os")' });
      assert.equal(p1.body.component, 'ak-stage-prompt');
      const f = Object.fromEntries(p1.body.fields.map((x: { field_key: string }) => [x.field_key, x]));
      assert.equal(f.email.initial_value, 'existing@example.com');
      assert.equal(f.greeting.placeholder, 'Hello Existing Person');
      assert.equal(f.nick.initial_value, '{{ 7 * 7 }} __import__("os")', 'what was typed is shown as typed');
      assert.equal(f.echo.initial_value, '{{ 7 * 7 }} __IMPORT__("OS")');
      assert.equal(f.broken.initial_value, 'return 1/0', 'a failing expression shows its text, as authentik');
      assert.deepEqual(f.pick.choices, [
        { value: 'existing', label: 'existing' },
        { value: 'other', label: 'other' },
      ]);
      assert.equal(f.pick.initial_value, 'other');
      const done = await post(b, slug, { email: 'existing@example.com', greeting: 'hi', nick: 'n', echo: 'e', pick: 'existing' });
      assert.equal(done.body.component, 'ak-stage-dummy', JSON.stringify(done.body.response_errors));
      const data = await promptData(b);
      assert.equal(data.pick, 'existing');
      assert.equal(data.broken, 'return 1/0', 'an optional field not sent takes its (fallback) initial value');
    });

    it("a username prompt lets the person keep their own username (someone else's is taken)", async () => {
      const s = await defaultStages(srv);
      const stage = await promptStage([{ field_key: 'username', type: 'username' }]);
      const slug = await flowWith([s.identification, stage]);
      const b = new Browser(srv.api);
      await b.get(slug);
      await b.solve(slug, { component: 'ak-stage-identification', uidField: 'existing' });
      const own = await post(b, slug, { username: 'Existing' });
      assert.equal(own.body.component, 'ak-stage-dummy', JSON.stringify(own.body.response_errors));
    });

    it('two password fields must match; one is trimmed like any DRF CharField', async () => {
      const stage = await promptStage([
        { field_key: 'password', type: 'password' },
        { field_key: 'password_repeat', type: 'password' },
      ]);
      const slug = await flowWith([stage]);
      const b = new Browser(srv.api);
      await b.get(slug);
      const r = await post(b, slug, { password: 'one-password', password_repeat: 'another-one' });
      assert.deepEqual(r.body.response_errors, { non_field_errors: err("Passwords don't match.") });
      assert.equal(r.body.component, 'ak-stage-prompt');
      const blank = await post(b, slug, { password: '', password_repeat: '' });
      assert.deepEqual(blank.body.response_errors.password, err('This field may not be blank.', 'blank'));
      const ok = await post(b, slug, { password: 'same-password', password_repeat: 'same-password' });
      assert.equal(ok.body.component, 'ak-stage-dummy');
    });

    it('validation policies: all must pass; a password policy’s messages under its field, others as non-field errors', async () => {
      const pw = await call(srv, 'POST', '/policies/password/', {
        name: 'pe-password',
        password_field: 'secret',
        length_min: 10,
        amount_digits: 1,
        error_message: 'Ten characters and a digit, please.',
      });
      assert.equal(pw.status, 201, JSON.stringify(pw.body));
      const expr = await call(srv, 'POST', '/policies/expression/', {
        name: 'pe-nick-policy',
        expression:
          'if request.context["prompt_data"]["nick"] == "admin":\n    ak_message("That nickname is reserved.")\n    return False\nreturn True',
      });
      assert.equal(expr.status, 201, JSON.stringify(expr.body));
      const stage = await promptStage(
        [
          { field_key: 'nick', type: 'text' },
          { field_key: 'secret', type: 'password' },
        ],
        { validation_policies: [pw.body.pk, expr.body.pk] },
      );
      const slug = await flowWith([stage]);
      const b = new Browser(srv.api);
      await b.get(slug);
      const both = await post(b, slug, { nick: 'admin', secret: 'short' });
      assert.deepEqual(both.body.response_errors, {
        secret: err('Ten characters and a digit, please.'),
        non_field_errors: err('That nickname is reserved.'),
      });
      const weak = await post(b, slug, { nick: 'friendly', secret: 'long-enough-but-no-digit' });
      assert.deepEqual(weak.body.response_errors, { secret: err('Ten characters and a digit, please.') });
      assert.equal(await promptData(b), undefined, 'nothing kept while a policy fails');
      const good = await post(b, slug, { nick: 'friendly', secret: 'long-enough-1' });
      assert.equal(good.body.component, 'ak-stage-dummy');
      assert.deepEqual(await promptData(b), { nick: 'friendly', secret: 'long-enough-1' });
      // the events of the policies' checks do not record the password (none are written by a stage's own check)
      const events = await srv.app.store.db.selectFrom('events').select('context').where('action', '=', 'policy_execution').execute();
      for (const e of events) assert.doesNotMatch(e.context, /long-enough-1/);
    });

    it('a password policy bound in the flow reads the prompt data (no more "Password not set in context")', async () => {
      const pw = await call(srv, 'POST', '/policies/password/', { name: 'pe-flow-password', length_min: 12 });
      const stage = await promptStage([{ field_key: 'password', type: 'password' }]);
      const slug = await flowWith([stage]);
      const binding = await bindingOf(srv, slug, dummy);
      assert.equal(
        (await call(srv, 'PATCH', `/flows/bindings/${binding}/`, { evaluate_on_plan: false, re_evaluate_policies: true })).status,
        200,
      );
      assert.equal((await call(srv, 'POST', '/policies/bindings/', { target: binding, policy: pw.body.pk, order: 0 })).status, 201);
      // a strong enough password: the dummy stage applies
      const strong = new Browser(srv.api);
      await strong.get(slug);
      assert.equal((await post(strong, slug, { password: 'twelve-chars-at-least' })).body.component, 'ak-stage-dummy');
      // a short one: the policy fails, the dummy stage is skipped and the flow ends
      const short = new Browser(srv.api);
      await short.get(slug);
      const ended = await post(short, slug, { password: 'short' });
      assert.equal(ended.body.component, 'xak-flow-redirect');
      const test = await call(srv, 'POST', `/policies/all/${pw.body.pk}/test/`, {
        user: (await call(srv, 'GET', '/core/users/?username=existing')).body.results[0].pk,
        context: { prompt_data: { password: 'short' } },
      });
      assert.deepEqual(test.body.passing, false);
      assert.deepEqual(test.body.messages, ['Invalid password.']);
    });
  });
}
