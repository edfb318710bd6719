/**
 * What expression policies write into the flow context, as authentik's documentation has them do (SQLite and
 * PostgreSQL, the Python runtime): `redirect_stage_target` chooses where a redirect stage sends the person (another
 * flow, a URL; a missing flow or a script URL leaves the stage's own target), `prompt_data` changed in place by a
 * prompt stage's validation policy is what the stage keeps (authentik's "e-mail as username"), another key written by
 * one binding's policy is read by a later one, what Keystage keeps itself (`pending_user`, `auth_method`) is not
 * written, and `flow_plan.redirect(url)` (authentik's snippet "redirect current flow to another URL") puts a redirect
 * stage next.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { Browser } from '../helpers/browser.js';
import { bindExpression, createStage, flowOf } from '../helpers/flows.js';

for (const dialect of dialects()) {
  describe(`expression policies writing the flow context (${dialect})`, () => {
    let srv: TestServer;
    let n = 0;
    before(async () => {
      srv = await startServer(dialect);
      await flowOf(srv, 'cw-target', [await createStage(srv, '/stages/dummy/', { name: 'cw-target-dummy' })]);
    });
    after(async () => srv.close());

    /** a flow of one static redirect stage whose binding's policy sets redirect_stage_target to `target` */
    const redirectWith = async (target: string) => {
      const slug = `cw-redirect-${++n}`;
      const stage = await createStage(srv, '/stages/redirect/', { name: slug, mode: 'static', target_static: 'https://static.example/' });
      await flowOf(srv, slug, [stage]);
      await bindExpression(
        srv,
        slug,
        stage,
        `context["flow_plan"].context["redirect_stage_target"] = ${JSON.stringify(target)}\nreturn True`,
      );
      const b = new Browser(srv.api);
      return { b, first: await b.get(slug) };
    };

    it('redirect_stage_target: another flow, a URL; a missing flow or a script URL leaves the stage’s target', async () => {
      const toFlow = await redirectWith('ak-flow://cw-target');
      assert.deepEqual([toFlow.first.body.component, toFlow.first.body.to], ['xak-flow-redirect', '/if/flow/cw-target/']);
      assert.equal((await toFlow.b.get('cw-target')).body.component, 'ak-stage-dummy');
      assert.equal((await redirectWith('https://elsewhere.example/x')).first.body.to, 'https://elsewhere.example/x');
      assert.equal((await redirectWith('ak-flow://no-such-flow')).first.body.to, 'https://static.example/');
      assert.equal((await redirectWith('javascript:alert(1)')).first.body.to, 'https://static.example/');
    });

    it('prompt_data changed by a validation policy is what the prompt stage keeps (authentik’s e-mail as username)', async () => {
      const email = await call(srv, 'POST', '/stages/prompt/prompts/', {
        name: 'cw-email',
        field_key: 'email',
        label: 'E-mail',
        type: 'email',
        required: true,
      });
      const policy = await call(srv, 'POST', '/policies/expression/', {
        name: 'cw-email-as-username',
        expression: 'request.context["prompt_data"]["username"] = request.context["prompt_data"]["email"]\nreturn True',
      });
      const prompt = await createStage(srv, '/stages/prompt/stages/', {
        name: 'cw-prompt',
        fields: [email.body.pk],
        validation_policies: [policy.body.pk],
      });
      const write = await createStage(srv, '/stages/user_write/', { name: 'cw-write', user_creation_mode: 'always_create' });
      await flowOf(srv, 'cw-signup', [prompt, write], { designation: 'enrollment' });
      const b = new Browser(srv.api);
      await b.get('cw-signup');
      const done = await b.solve('cw-signup', { component: 'ak-stage-prompt', email: 'casey@example.com' } as never);
      assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      const users = await call(srv, 'GET', '/core/users/?email=casey@example.com');
      assert.deepEqual(
        users.body.results.map((u: { username: string }) => u.username),
        ['casey@example.com'],
      );
    });

    it('a key one policy writes is read by a later one; what Keystage keeps is not written', async () => {
      const first = await createStage(srv, '/stages/dummy/', { name: 'cw-first' });
      const second = await createStage(srv, '/stages/dummy/', { name: 'cw-second' });
      await flowOf(srv, 'cw-chain', [first, second]);
      await bindExpression(
        srv,
        'cw-chain',
        first,
        [
          'plan = context["flow_plan"]',
          'plan.context["cw_note"] = {"from": "first"}',
          'plan.context["auth_method"] = "forged"',
          'plan.context["pending_user"] = None',
          'return True',
        ].join('\n'),
      );
      // the second stage is shown only when the note arrived and the kept keys did not change
      await bindExpression(
        srv,
        'cw-chain',
        second,
        'return request.context.get("cw_note") == {"from": "first"} and context["flow_plan"].context.get("cw_note") == {"from": "first"} and "auth_method" not in request.context',
      );
      const b = new Browser(srv.api);
      const one = await b.get('cw-chain');
      assert.equal(one.body.component, 'ak-stage-dummy');
      const two = await b.solve('cw-chain', { component: 'ak-stage-dummy' });
      assert.equal(two.body.component, 'ak-stage-dummy', 'the second stage ran: its policy read the note');
      const end = await b.solve('cw-chain', { component: 'ak-stage-dummy' });
      assert.equal(end.body.component, 'xak-flow-redirect');
    });

    it('flow_plan.redirect(url): a redirect stage in place of a stage whose policy fails, after one whose policy passes', async () => {
      const snippet = (url: string, result: boolean) =>
        `plan = request.context.get("flow_plan")\nif not plan:\n    return False\nplan.redirect(${JSON.stringify(url)})\nreturn ${result ? 'True' : 'False'}`;
      const first = await createStage(srv, '/stages/dummy/', { name: 'cw-rd-first' });
      const skipped = await createStage(srv, '/stages/dummy/', { name: 'cw-rd-skipped' });
      await flowOf(srv, 'cw-plan-redirect', [first, skipped]);
      // authentik's documented snippet, bound to the stage after which the redirect should happen
      await bindExpression(srv, 'cw-plan-redirect', skipped, snippet('https://foo.example/bar', false));
      const b = new Browser(srv.api);
      assert.equal((await b.get('cw-plan-redirect')).body.component, 'ak-stage-dummy');
      const away = await b.solve('cw-plan-redirect', { component: 'ak-stage-dummy' });
      assert.deepEqual([away.body.component, away.body.to], ['xak-flow-redirect', 'https://foo.example/bar']);
      // coming back, the flow goes on (the skipped stage stays skipped) and ends
      const end = await b.solve('cw-plan-redirect', { component: 'xak-flow-redirect', to: 'https://foo.example/bar' } as never);
      assert.deepEqual([end.body.component, end.body.to], ['xak-flow-redirect', '/']);

      const kept = await createStage(srv, '/stages/dummy/', { name: 'cw-rd-kept' });
      await flowOf(srv, 'cw-plan-redirect-after', [kept]);
      await bindExpression(srv, 'cw-plan-redirect-after', kept, snippet('/after/', true));
      const c = new Browser(srv.api);
      assert.equal((await c.get('cw-plan-redirect-after')).body.component, 'ak-stage-dummy', 'the stage whose policy passed runs first');
      const after = await c.solve('cw-plan-redirect-after', { component: 'ak-stage-dummy' });
      assert.deepEqual([after.body.component, after.body.to], ['xak-flow-redirect', '/after/']);
    });
  });
}
