/**
 * Object lifecycle management (authentik 2026.2+'s access reviews, `/lifecycle/rules/`, `iterations/`, `reviews/`),
 * ported from its enterprise/lifecycle review tests: rules through the official client with authentik's checks and
 * messages; a rule's save opening an iteration per object it covers (`review_initiated`, reviewers notified through
 * the rule's transports); reviews by named reviewers and by members of reviewer groups (descendant groups too) until
 * the rule is satisfied (`review_completed`, once); the daily task making late iterations overdue and opening the next
 * round after the interval; a changed or deleted rule cancelling what it no longer covers; who sees which iterations —
 * on both databases.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { LifecycleApi } from '@goauthentik/api/dist/apis/LifecycleApi.js';
import { TasksApi } from '@goauthentik/api/dist/apis/TasksApi.js';
import { ResponseError } from '@goauthentik/api/dist/runtime.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../helpers/flows.js';
import { callAs, createGroup, tokenFor } from '../groups/setup.js';
import { until } from '../helpers/wait.js';
import { failUpdatesOf } from '../helpers/faults.js';

const DAILY = 'authentik.enterprise.lifecycle.review.tasks.apply_lifecycle_rules';
const APPLY = 'authentik.enterprise.lifecycle.review.tasks.apply_lifecycle_rule';
const DAY = 86_400_000;

const clientFor = (srv: TestServer, token: string) =>
  new LifecycleApi(new Configuration({ basePath: srv.api, headers: { authorization: `Bearer ${token}` } }));

for (const dialect of dialects()) {
  describe(`access reviews (${dialect})`, () => {
    let srv: TestServer;
    let admin: LifecycleApi;
    let tasks: TasksApi;
    const db = () => srv.app.store.db;
    const people: Record<string, { pk: number; uuid: string; token: string; api: LifecycleApi }> = {};
    let inbox: string;

    const person = async (name: string) => {
      const pk = await createUser(srv, name, `${name}-pass-1`);
      const uuid = (await call(srv, 'GET', `/core/users/${pk}/`)).body.uuid as string;
      const token = await tokenFor(srv, pk, `${name}-token-`.padEnd(40, 'z'));
      people[name] = { pk, uuid, token, api: clientFor(srv, token) };
      return people[name]!;
    };
    const app = async (name: string) => {
      const r = await call(srv, 'POST', '/core/applications/', { name, slug: name.toLowerCase().replace(/\W+/g, '-') });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.pk as string;
    };
    /** the apply tasks of a rule, once `n` of them finished */
    const applied = (rule: string, n = 1) =>
      until(`rule ${rule} applied ${n} times`, async () => {
        const runs = (await tasks.tasksTasksList({ search: `${APPLY}:${rule}`, pageSize: 100 })).results.filter((t) => t.state === 'done');
        return runs.length >= n ? runs : undefined;
      });
    const iterationsOf = (objectId: string) =>
      db().selectFrom('lifecycle_iterations').selectAll().where('object_id', '=', objectId).orderBy('opened_on').execute();
    const eventsOf = async (action: string, iteration: string) =>
      (await db().selectFrom('events').select(['context', 'user']).where('action', '=', action).execute())
        .map((e) => ({ context: JSON.parse(e.context), user: JSON.parse(e.user) }))
        .filter((e) => e.context.lifecycle_iteration === iteration);
    const runDaily = async (rules: string[], n: number) => {
      const schedule = (await tasks.tasksSchedulesList({ actorName: DAILY })).results[0]!;
      await tasks.tasksSchedulesSendCreate({ id: schedule.id });
      for (const r of rules) await applied(r, n);
    };

    before(async () => {
      srv = await startServer(dialect);
      admin = clientFor(srv, srv.token);
      tasks = new TasksApi(new Configuration({ basePath: srv.api, headers: { authorization: `Bearer ${srv.token}` } }));
      for (const name of ['rev-ann', 'rev-bob', 'rev-cat', 'rev-dan', 'rev-eve']) await person(name);
      inbox = (await call(srv, 'POST', '/events/transports/', { name: 'review-inbox', mode: 'local' })).body.pk;
    });
    after(async () => srv?.close());

    it("rules through the official client: defaults, authentik's checks and messages, list, search, filter", async () => {
      const target = await app('Payroll');
      const rule = await admin.lifecycleRulesCreate({
        lifecycleRuleRequest: { name: 'all applications', contentType: 'authentik_core.application', reviewers: [people['rev-ann']!.uuid] },
      });
      assert.equal(rule.interval, 'days=60');
      assert.equal(rule.gracePeriod, 'days=30');
      assert.equal(rule.minReviewers, 1);
      assert.equal(rule.targetVerbose, 'Applications');
      assert.deepEqual(rule.reviewers, [people['rev-ann']!.uuid]);
      assert.deepEqual(
        rule.reviewersObj.map((u) => u.username),
        ['rev-ann'],
      );
      assert.equal(rule.objectId ?? null, null);
      const one = await admin.lifecycleRulesCreate({
        lifecycleRuleRequest: {
          name: 'payroll',
          contentType: 'authentik_core.application',
          objectId: target,
          reviewers: [people['rev-bob']!.uuid],
          interval: 'days=90',
          gracePeriod: 'days=10',
        },
      });
      assert.equal(one.targetVerbose, 'Application: Payroll');

      const post = (body: Record<string, unknown>) => call(srv, 'POST', '/lifecycle/rules/', body);
      const base = { content_type: 'authentik_core.group', reviewers: [people['rev-ann']!.uuid] };
      const cases: [Record<string, unknown>, unknown][] = [
        [{ ...base, name: 'r1', object_id: '00000000-0000-4000-8000-000000000000' }, { object_id: ['Object does not exist'] }],
        [{ ...base, name: 'r2', reviewers: [] }, { non_field_errors: ['Either a reviewer group or a reviewer must be set.'] }],
        [
          { ...base, name: 'r3', interval: 'days=10', grace_period: 'days=20' },
          { grace_period: ['Grace period must be shorter than the interval.'] },
        ],
        [{ ...base, name: 'r4', content_type: 'authentik_core.user' }, { content_type: ['"authentik_core.user" is not a valid choice.'] }],
        [{ ...base, name: 'all applications' }, { name: ['lifecycle rule with this name already exists.'] }],
      ];
      for (const [body, expected] of cases) {
        const r = await post(body);
        assert.deepEqual([r.status, r.body], [400, expected], JSON.stringify(body));
      }
      const badDuration = await post({ ...base, name: 'r5', interval: 'sometimes' });
      assert.equal(badDuration.status, 400);
      assert.ok(badDuration.body.interval, JSON.stringify(badDuration.body));
      // a PATCH keeps what it does not name; the checks see the rule as it would be
      const shorter = await call(srv, 'PATCH', `/lifecycle/rules/${one.id}/`, { interval: 'days=5' });
      assert.deepEqual([shorter.status, shorter.body], [400, { grace_period: ['Grace period must be shorter than the interval.'] }]);

      const names = async (q: Parameters<LifecycleApi['lifecycleRulesList']>[0]) =>
        (await admin.lifecycleRulesList(q)).results.map((r) => r.name);
      assert.deepEqual(await names({}), ['all applications', 'payroll']);
      assert.deepEqual(await names({ search: 'rev-bob' }), ['payroll']);
      assert.deepEqual(await names({ contentTypeModel: 'application' }), ['all applications', 'payroll']);
      assert.deepEqual(await names({ contentTypeModel: 'group' }), []);
      // without the model's permissions: nothing
      assert.equal((await callAs(srv, people['rev-eve']!.token, 'GET', '/lifecycle/rules/')).status, 403);
      for (const r of [rule, one]) await admin.lifecycleRulesDestroy({ id: r.id });
      // iterations are opened by rules only
      const opened = await call(srv, 'POST', '/lifecycle/iterations/', { content_type: 'authentik_core.application' });
      assert.equal(opened.status, 400);
      const latest = await call(srv, 'GET', `/lifecycle/iterations/latest/nothing/${target}/`);
      assert.equal(latest.status, 400);
    });

    it('a saved rule opens a review per object; named reviewers complete it; reviewers are notified; once per interval', async () => {
      const target = await app('Ledger');
      const rule = await admin.lifecycleRulesCreate({
        lifecycleRuleRequest: {
          name: 'ledger',
          contentType: 'authentik_core.application',
          objectId: target,
          reviewers: [people['rev-ann']!.uuid, people['rev-bob']!.uuid],
          notificationTransports: [inbox],
        },
      });
      await applied(rule.id);
      const [it1] = await iterationsOf(target);
      assert.ok(it1);
      assert.equal(it1.state, 'PENDING');
      const initiated = await eventsOf('review_initiated', it1.id);
      assert.equal(initiated.length, 1);
      assert.equal(initiated[0]!.context.message, 'Access review is due for application Ledger');
      assert.equal(initiated[0]!.context.hyperlink, '/if/admin/#/core/applications/ledger;%7B%22page%22%3A%22page-lifecycle%22%7D');
      assert.equal(initiated[0]!.context.hyperlink_label, 'Go to application');
      // each reviewer's inbox got it
      const told = async (pk: number) =>
        (await db().selectFrom('notifications').select(['body', 'severity']).where('user_id', '=', pk).execute()).map(
          (n) => `${n.severity}: ${n.body}`,
        );
      for (const name of ['rev-ann', 'rev-bob'])
        assert.deepEqual(await told(people[name]!.pk), ['notice: Access review is due for application Ledger']);
      assert.deepEqual(await told(people['rev-cat']!.pk), []);

      // the iteration as a reviewer sees it
      const [seen] = (await people['rev-ann']!.api.lifecycleIterationsListOpen({})).results.filter((i) => i.id === it1.id);
      assert.ok(seen, 'the reviewer sees the open iteration');
      assert.equal(seen.objectVerbose, 'Ledger');
      assert.equal(seen.userCanReview, true);
      assert.equal(seen.rule.name, 'ledger');
      assert.equal(seen.gracePeriodEnd.getTime(), new Date(new Date(it1.opened_on).setUTCHours(0, 0, 0, 0) + 30 * DAY).getTime());
      assert.equal(seen.nextReviewDate.getTime(), new Date(new Date(it1.opened_on).setUTCHours(0, 0, 0, 0) + 60 * DAY).getTime());
      // someone who does not review it sees nothing, and may not review
      assert.deepEqual((await people['rev-cat']!.api.lifecycleIterationsListOpen({})).results, []);
      const refused = await callAs(srv, people['rev-cat']!.token, 'POST', '/lifecycle/reviews/', { iteration: it1.id });
      assert.deepEqual([refused.status, refused.body], [400, { iteration: ['You are not allowed to submit a review for this object.'] }]);
      // the administrator sees it (not a reviewer: user_is_reviewer narrows it away)
      assert.equal((await admin.lifecycleIterationsListOpen({})).results.find((i) => i.id === it1.id)?.userCanReview, false);
      assert.equal(
        (await admin.lifecycleIterationsListOpen({ userIsReviewer: true })).results.some((i) => i.id === it1.id),
        false,
      );

      const first = await people['rev-ann']!.api.lifecycleReviewsCreate({ reviewRequest: { iteration: it1.id, note: 'still needed' } });
      assert.equal(first.reviewer.username, 'rev-ann');
      assert.equal(first.note, 'still needed');
      assert.equal((await iterationsOf(target))[0]!.state, 'PENDING', 'bob has not reviewed yet');
      const again = await callAs(srv, people['rev-ann']!.token, 'POST', '/lifecycle/reviews/', { iteration: it1.id });
      assert.equal(again.status, 400, 'one review per reviewer');
      await people['rev-bob']!.api.lifecycleReviewsCreate({ reviewRequest: { iteration: it1.id } });
      assert.equal((await iterationsOf(target))[0]!.state, 'REVIEWED');
      const completed = await eventsOf('review_completed', it1.id);
      assert.equal(completed.length, 1);
      assert.equal(completed[0]!.context.message, 'Access review completed for Application Ledger');
      assert.equal(completed[0]!.user.username, 'rev-bob');
      const latest = await admin.lifecycleIterationsListLatest({ contentType: 'authentik_core.application', objectId: target });
      assert.deepEqual(
        latest.map((i) => [i.id, i.state, i.reviews.map((r) => r.reviewer.username).sort()]),
        [[it1.id, 'REVIEWED', ['rev-ann', 'rev-bob']]],
      );
      // saved again within the interval: no second round
      await admin.lifecycleRulesPartialUpdate({ id: rule.id, patchedLifecycleRuleRequest: { minReviewers: 1 } });
      await applied(rule.id, 2);
      assert.equal((await iterationsOf(target)).length, 1);
    });

    it('a review and the completion it brings are one: a failure stores neither; two last reviews at once complete it once', async () => {
      const strongroom = await app('Strongroom');
      const one = await admin.lifecycleRulesCreate({
        lifecycleRuleRequest: {
          name: 'strongroom',
          contentType: 'authentik_core.application',
          objectId: strongroom,
          reviewers: [people['rev-ann']!.uuid],
        },
      });
      await applied(one.id);
      const [it1] = await iterationsOf(strongroom);
      assert.ok(it1);
      const reviewsOf = async (iteration: string) =>
        (await db().selectFrom('lifecycle_reviews').select('reviewer').where('iteration', '=', iteration).execute()).length;
      const heal = await failUpdatesOf(srv, dialect, 'lifecycle_iterations', 'state', `OLD.id = '${it1.id}'`);
      try {
        const failed = await callAs(srv, people['rev-ann']!.token, 'POST', '/lifecycle/reviews/', { iteration: it1.id });
        assert.notEqual(failed.status, 201);
      } finally {
        await heal();
      }
      assert.equal(await reviewsOf(it1.id), 0, 'no review stored without its completion');
      assert.equal((await iterationsOf(strongroom))[0]!.state, 'PENDING');
      // the same reviewer again: allowed, and it completes
      const done = await callAs(srv, people['rev-ann']!.token, 'POST', '/lifecycle/reviews/', { iteration: it1.id });
      assert.equal(done.status, 201, JSON.stringify(done.body));
      assert.equal((await iterationsOf(strongroom))[0]!.state, 'REVIEWED');

      // two reviewers, both needed, at the same moment
      const safe = await app('Coffer');
      const both = await admin.lifecycleRulesCreate({
        lifecycleRuleRequest: {
          name: 'coffer',
          contentType: 'authentik_core.application',
          objectId: safe,
          reviewers: [people['rev-ann']!.uuid, people['rev-bob']!.uuid],
        },
      });
      await applied(both.id);
      const [it2] = await iterationsOf(safe);
      assert.ok(it2);
      const answers = await Promise.all(
        ['rev-ann', 'rev-bob'].map((name) => callAs(srv, people[name]!.token, 'POST', '/lifecycle/reviews/', { iteration: it2.id })),
      );
      assert.deepEqual(
        answers.map((a) => a.status),
        [201, 201],
      );
      assert.equal((await iterationsOf(safe))[0]!.state, 'REVIEWED', 'the later of the two saw the other');
      assert.equal((await eventsOf('review_completed', it2.id)).length, 1);
    });

    it('reviewer groups: members of the group or a child group count up to min_reviewers', async () => {
      const parent = await createGroup(srv, { name: 'auditors' });
      const child = await createGroup(srv, { name: 'junior-auditors', parents: [parent.pk] });
      for (const [name, group] of [
        ['rev-cat', child.pk],
        ['rev-dan', parent.pk],
      ] as const)
        assert.equal((await call(srv, 'POST', `/core/groups/${group}/add_user/`, { pk: people[name]!.pk })).status, 204);
      const team = await createGroup(srv, { name: 'payments-team' });
      const rule = await admin.lifecycleRulesCreate({
        lifecycleRuleRequest: {
          name: 'group reviews',
          contentType: 'authentik_core.group',
          objectId: team.pk,
          reviewers: [],
          reviewerGroups: [parent.pk],
          minReviewers: 2,
        },
      });
      await applied(rule.id);
      const [it1] = await iterationsOf(team.pk);
      assert.ok(it1);
      assert.equal((await eventsOf('review_initiated', it1.id))[0]!.context.message, 'Access review is due for group payments-team');
      assert.equal((await people['rev-eve']!.api.lifecycleIterationsListOpen({})).results.length, 0);
      await people['rev-cat']!.api.lifecycleReviewsCreate({ reviewRequest: { iteration: it1.id } });
      assert.equal((await iterationsOf(team.pk))[0]!.state, 'PENDING', 'one of two');
      await people['rev-dan']!.api.lifecycleReviewsCreate({ reviewRequest: { iteration: it1.id } });
      assert.equal((await iterationsOf(team.pk))[0]!.state, 'REVIEWED');
      const eve = await callAs(srv, people['rev-eve']!.token, 'POST', '/lifecycle/reviews/', { iteration: it1.id });
      assert.equal(eve.status, 400);
    });

    it('daily: late reviews become overdue (reviewers alerted), the next round opens after the interval; a changed or deleted rule cancels what it no longer covers', async () => {
      const a = await app('Vault');
      const b = await app('Wiki');
      const rule = await admin.lifecycleRulesCreate({
        lifecycleRuleRequest: {
          name: 'vault',
          contentType: 'authentik_core.application',
          objectId: a,
          reviewers: [people['rev-eve']!.uuid],
          notificationTransports: [inbox],
        },
      });
      await applied(rule.id);
      const [it1] = await iterationsOf(a);
      assert.ok(it1);
      // opened 31 days ago: past the grace period
      const back = (days: number) => new Date(Date.now() - days * DAY).toISOString();
      await db()
        .updateTable('lifecycle_iterations')
        .set({ opened_on: back(31) })
        .where('id', '=', it1.id)
        .execute();
      await runDaily([rule.id], 2);
      assert.equal((await iterationsOf(a))[0]!.state, 'OVERDUE');
      const overdue = await eventsOf('review_overdue', it1.id);
      assert.equal(overdue.length, 1);
      assert.equal(overdue[0]!.context.message, 'Access review is overdue for Application Vault');
      const eveTold = await db().selectFrom('notifications').select('severity').where('user_id', '=', people['rev-eve']!.pk).execute();
      assert.ok(eveTold.some((n) => n.severity === 'alert'));
      assert.equal((await iterationsOf(a)).length, 1, 'within the interval: no new round');
      // an overdue review may still be given
      assert.equal((await people['rev-eve']!.api.lifecycleIterationsListOpen({ userIsReviewer: true })).results[0]?.state, 'OVERDUE');

      // 61 days on: the next round
      await db()
        .updateTable('lifecycle_iterations')
        .set({ opened_on: back(61) })
        .where('id', '=', it1.id)
        .execute();
      await runDaily([rule.id], 3);
      const rounds = await iterationsOf(a);
      assert.deepEqual(
        rounds.map((r) => r.state),
        ['OVERDUE', 'PENDING'],
      );

      // the rule now covers Wiki: Vault's open rounds are cancelled, Wiki's opens
      await admin.lifecycleRulesPartialUpdate({ id: rule.id, patchedLifecycleRuleRequest: { objectId: b } });
      await applied(rule.id, 4);
      assert.deepEqual(
        (await iterationsOf(a)).map((r) => r.state),
        ['CANCELED', 'CANCELED'],
      );
      const [wiki] = await iterationsOf(b);
      assert.equal(wiki?.state, 'PENDING');
      // deleted: its open round is cancelled and kept
      await admin.lifecycleRulesDestroy({ id: rule.id });
      const kept = await iterationsOf(b);
      assert.deepEqual(
        kept.map((r) => [r.state, r.rule]),
        [['CANCELED', null]],
      );
      try {
        await people['rev-eve']!.api.lifecycleReviewsCreate({ reviewRequest: { iteration: wiki!.id } });
        assert.fail('a cancelled round takes no review');
      } catch (e) {
        assert.ok(e instanceof ResponseError && e.response.status === 400);
      }
    });
  });
}
