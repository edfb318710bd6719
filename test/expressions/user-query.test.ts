/**
 * `from authentik.core.models import User` and a read-only `User.objects` in expressions: every field and lookup
 * against seeded users (case-insensitive lookups alike on both dialects, `%` and `_` matched as themselves), a clear
 * FieldError for anything else that fails the policy, other models still an ImportError; and authentik's documented
 * "Ensure unique email addresses" policy, its three versions unchanged, on the default sign-up flow's prompt stage.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { Browser } from '../helpers/browser.js';
import { createUser } from '../helpers/flows.js';
import { evaluate } from '../../src/expressions/index.js';

const FLOW = 'default-enrollment-flow';

/** authentik's docs, "Ensure unique email addresses": the three versions, as published */
const UNIQUE_EMAIL_A = `from authentik.core.models import User

# Ensure this matches the *Field Key* value of the prompt
field_name = "email"
email = request.context["prompt_data"][field_name]
if User.objects.filter(email=email).exists():
    ak_message("Email address in use")
    return False
return True
`;
const UNIQUE_EMAIL_B = `# Ensure this matches the *Field Key* value of the prompt
field_name = "email"
email = request.context["prompt_data"][field_name]
pending_user = request.context.get("pending_user")

from authentik.core.models import User
query = User.objects.filter(email__iexact=email)
if pending_user:
    query = query.exclude(pk=pending_user.pk)

if query.exists():
    ak_message("Email address in use")
    return False

return True
`;
const UNIQUE_EMAIL_C = `# Ensure this matches the *Field Key* value of the prompt
field_name = "email"
email = request.context["prompt_data"][field_name]
pending_user = request.context.get("pending_user")

from authentik.core.models import User
query = User.objects.filter(email__iexact=email)
if pending_user:
    query = query.exclude(pk=pending_user.pk)
elif request.user and request.user.is_authenticated:
    query = query.exclude(pk=request.user.pk)

if query.exists():
    ak_message("Email address in use")
    return False

return True
`;

for (const dialect of dialects()) {
  describe(`User.objects in expressions (${dialect})`, () => {
    let srv: TestServer;
    /** the seeded users' path: only they match `path=PATH` */
    const PATH = `uq-${randomUUID().slice(0, 8)}`;
    const ids: Record<string, number> = {};

    const policy = async (expression: string) => {
      const r = await call(srv, 'POST', '/policies/expression/', { name: `uq-${randomUUID()}`, expression });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.pk as string;
    };
    const test = async (pk: string, context: Record<string, unknown> = {}, user = ids.alice) =>
      (await call(srv, 'POST', `/policies/all/${pk}/test/`, { user, context })).body as {
        passing: boolean;
        messages: string[];
        log_messages: unknown[];
      };
    /** the expression's result, as the message it leaves (repr of what it computed) */
    const value = async (expression: string) => {
      const r = await test(await policy(`ak_message(repr(${expression}))\nreturn True`));
      assert.equal(r.passing, true, JSON.stringify(r));
      return r.messages[0];
    };
    const names = (expression: string) => value(`sorted(u.username for u in ${expression})`);

    before(async () => {
      srv = await startServer(dialect);
      const seed: [string, Record<string, unknown>][] = [
        ['alice', { email: 'Alice@Example.com', name: 'Alice Liddell' }],
        ['bob', { email: 'bob@example.com', name: 'Bob Builder' }],
        ['percent', { email: 'a%b@example.com', name: '100% sure' }],
        ['underscore', { email: 'a_b@example.com', name: 'Under_Score' }],
        ['axb', { email: 'axb@example.com', name: 'Plain x' }],
        ['inactive', { email: 'gone@example.org', name: 'Gone', is_active: false }],
        ['service', { email: 'svc@example.org', name: 'Service', type: 'service_account' }],
      ];
      for (const [username, extra] of seed)
        ids[username] = await createUser(srv, `${username}-${PATH}`, 'seed-password-1', { path: PATH, ...extra });
    });
    after(async () => srv?.close());

    /** Python's repr of the sorted usernames */
    const u = (...names: string[]) =>
      `[${names
        .map((n) => `'${n}-${PATH}'`)
        .sort()
        .join(', ')}]`;

    it('imports, and each field and lookup answers from the users table', async () => {
      const all = `User.objects.filter(path="${PATH}")`;
      assert.equal(
        await names(`__import__("authentik.core.models", fromlist=["User"]).User.objects.filter(path="${PATH}")`),
        u('alice', 'bob', 'percent', 'underscore', 'axb', 'inactive', 'service'),
      );
      const pre = 'from authentik.core.models import User\n';
      const run = async (expression: string) => {
        const r = await test(await policy(`${pre}ak_message(repr(${expression}))\nreturn True`));
        assert.equal(r.passing, true, JSON.stringify(r));
        return r.messages[0];
      };
      const n = (lookups: string) => run(`sorted(u.username for u in ${all}.filter(${lookups}))`);
      assert.equal(await n(`pk=${ids.bob}`), u('bob'));
      assert.equal(await n(`id=${ids.bob}`), u('bob'));
      assert.equal(await n(`pk="${ids.bob}"`), u('bob'), 'a number as text, as Django coerces it');
      assert.equal(await n(`pk__in=[${ids.bob}, ${ids.alice}, 999999]`), u('alice', 'bob'));
      assert.equal(await n(`username="bob-${PATH}"`), u('bob'));
      assert.equal(await n(`username="BOB-${PATH}"`), '[]', 'exact is case-sensitive');
      assert.equal(await n(`username__iexact="BOB-${PATH}"`), u('bob'));
      assert.equal(await n('email="Alice@Example.com"'), u('alice'));
      assert.equal(await n('email="alice@example.com"'), '[]');
      assert.equal(await n('email__iexact="ALICE@example.COM"'), u('alice'));
      assert.equal(await n('email__in=["bob@example.com", "svc@example.org", "nobody@example.com"]'), u('bob', 'service'));
      assert.equal(await n('email__in=[]'), '[]');
      assert.equal(await n('name__startswith="Ali"'), u('alice'));
      assert.equal(await n('name__startswith="ali"'), '[]');
      assert.equal(await n('name__istartswith="ALI"'), u('alice'));
      assert.equal(await n('name__contains="Build"'), u('bob'));
      assert.equal(await n('name__contains="build"'), '[]');
      assert.equal(await n('name__icontains="BUILD"'), u('bob'));
      // % and _ are themselves, not LIKE's wildcards
      assert.equal(await n('email__contains="a%b"'), u('percent'));
      assert.equal(await n('email__icontains="A_B"'), u('underscore'));
      assert.equal(await n('email__startswith="a_"'), u('underscore'));
      assert.equal(await n('email__istartswith="A%"'), u('percent'));
      assert.equal(await n('name__contains="%"'), u('percent'));
      assert.equal(await n('email__iexact="A_B@EXAMPLE.COM"'), u('underscore'));
      assert.equal(await n('email__iexact="a%b@example.com"'), u('percent'));
      assert.equal(await n('email__iexact="a_b@example.comx"'), '[]');
      const alice = JSON.parse((await run(`[u.uuid for u in User.objects.filter(pk=${ids.alice})]`)).replaceAll("'", '"')) as string[];
      assert.equal(alice.length, 1);
      assert.equal(await n(`uuid="${alice[0]}"`), u('alice'));
      assert.equal(await n(`uuid__iexact="${alice[0]!.toUpperCase()}"`), u('alice'));
      assert.equal(await n('is_active=False'), u('inactive'));
      assert.equal(await n('is_active=True, type="service_account"'), u('service'));
      assert.equal(await n('type="internal", email__icontains="EXAMPLE.ORG"'), u('inactive'));
      assert.equal(await n(`path__startswith="${PATH.slice(0, 5)}", name__icontains="x"`), u('axb'));

      // chained: each filter()/exclude() a new query; exclude(a, b) leaves out what matches both
      assert.equal(await run(`sorted(u.username for u in ${all}.exclude(email__icontains="example.com"))`), u('inactive', 'service'));
      assert.equal(
        await run(`sorted(u.username for u in ${all}.exclude(is_active=False, type="internal").exclude(type="service_account"))`),
        u('alice', 'bob', 'percent', 'underscore', 'axb'),
      );
      assert.equal(
        await run(
          `sorted(u.username for u in ${all}.filter(email__icontains="example.com").exclude(pk=${ids.alice}).filter(name__contains="_"))`,
        ),
        u('underscore'),
      );
      assert.equal(await run(`(lambda q: (q.filter(pk=${ids.bob}).count(), q.count()))(${all})`), '(1, 7)');

      // the terminal calls
      assert.equal(await run(`${all}.filter(email__iexact="BOB@example.com").exists()`), 'True');
      assert.equal(await run(`${all}.filter(email="BOB@example.com").exists()`), 'False');
      assert.equal(await run(`${all}.filter(email__icontains="example").count()`), '7');
      assert.equal(await run(`User.objects.filter(pk=${ids.bob}).first().email`), "'bob@example.com'");
      assert.equal(await run(`${all}.first().username`), `'alice-${PATH}'`, 'first() in pk order');
      assert.equal(await run('User.objects.filter(username="nobody-at-all").first()'), 'None');
      assert.equal(await run(`User.objects.get(email__iexact="BOB@EXAMPLE.COM", path="${PATH}").pk == ${ids.bob}`), 'True');
      assert.equal(await run(`User.objects.all().filter(pk=${ids.bob}).get().username`), `'bob-${PATH}'`);
      assert.equal(await run(`len(${all})`), '7');
      assert.equal(await run(`bool(${all}.filter(name="none such"))`), 'False');
      assert.equal(await run(`isinstance(${all}.first(), User) and isinstance(request.user, User)`), 'True');
      // what comes back is a user as ak_user_by gives: its groups and attributes work
      assert.equal(await run(`[list(u.ak_groups.all()) for u in User.objects.filter(pk=${ids.bob})]`), '[[]]');
    });

    it('get(): User.DoesNotExist and User.MultipleObjectsReturned; more than 100 users to hand out is an error', async () => {
      const src = (body: string) =>
        policy(
          `from authentik.core.models import User\ntry:\n    ${body}\nexcept User.DoesNotExist as e:\n    ak_message("none: " + str(e))\n` +
            `except User.MultipleObjectsReturned as e:\n    ak_message("many: " + str(e))\nreturn True`,
        );
      assert.deepEqual((await test(await src('User.objects.get(username="nobody-at-all")'))).messages, [
        'none: User matching query does not exist.',
      ]);
      assert.match((await test(await src(`User.objects.get(path="${PATH}")`))).messages[0]!, /^many: get\(\) returned more than one User/);
      assert.deepEqual((await test(await src(`ak_message(User.objects.get(pk=${ids.bob}).name)`))).messages, ['Bob Builder']);
      // Django's base classes catch them too
      const base = await policy(
        'from authentik.core.models import User\ntry:\n    User.objects.get(pk=-1)\nexcept Exception as e:\n    return type(e).__name__ == "DoesNotExist"\nreturn False',
      );
      assert.equal((await test(base)).passing, true);

      // the cap: 100 users handed out at most, one more fails the policy (count() and exists() have no cap); 101
      // users straight into the table (ids from the database, as the API would give them)
      const crowd = `crowd-${randomUUID().slice(0, 8)}`;
      const db = srv.app.store.db;
      const now = new Date().toISOString();
      await db
        .insertInto('users')
        .values(
          Array.from({ length: 101 }, (_, i) => ({
            uuid: randomUUID(),
            username: `${crowd}-${i}`,
            name: '',
            email: `${crowd}-${i}@example.net`,
            password: '',
            is_active: 1,
            last_login: null,
            date_joined: now,
            path: crowd,
            type: 'internal',
            attributes: '{}',
            password_change_date: now,
            last_updated: now,
          })) as never,
        )
        .execute();
      assert.equal(
        await value(`__import__("authentik.core.models", fromlist=["User"]).User.objects.filter(path="${crowd}").count()`),
        '101',
      );
      const many = await test(
        await policy(`from authentik.core.models import User\nreturn len(list(User.objects.filter(path="${crowd}")))`),
      );
      assert.equal(many.passing, false);
      assert.match(many.messages[0]!, /more than 100 users match/);
      const hundred = await test(
        await policy(
          `from authentik.core.models import User\nreturn len(list(User.objects.filter(path="${crowd}").exclude(username="${crowd}-7"))) == 100`,
        ),
      );
      assert.equal(hundred.passing, true, JSON.stringify(hundred));
    });

    it('anything else is a clear error that fails the policy; other models are still an ImportError; it is read-only', async () => {
      const fails = async (expression: string, pattern: RegExp) => {
        const r = await test(await policy(`from authentik.core.models import User\n${expression}\nreturn True`));
        assert.equal(r.passing, false, expression);
        assert.match(r.messages.join('\n'), pattern, expression);
        return r;
      };
      await fails('User.objects.filter(email__regex=".*").exists()', /FieldError: Unsupported lookup 'regex' for field 'email'/);
      await fails('User.objects.filter(password="x").exists()', /FieldError: Cannot resolve keyword 'password' into field/);
      await fails('User.objects.filter(attributes__foo=1).exists()', /FieldError: Cannot resolve keyword 'attributes'/);
      await fails('User.objects.filter(ak_groups__name="admins").exists()', /FieldError: Cannot resolve keyword 'ak_groups'/);
      await fails('User.objects.filter(email__iexact__x="a").exists()', /FieldError: Unsupported lookup 'iexact__x'/);
      await fails('User.objects.filter(pk__contains=1).exists()', /FieldError: Unsupported lookup 'contains' for field 'pk'/);
      await fails('User.objects.filter(date_joined__gt="2020-01-01").count()', /FieldError: Cannot resolve keyword 'date_joined'/);
      await fails('User.objects.filter(pk="abc").exists()', /ValueError: Field 'pk' expected a number/);
      await fails('User.objects.filter(email__in="a@b").exists()', /ValueError: .*takes a list/);
      await fails('User.objects.filter(email=[1]).exists()', /ValueError/);
      await fails('User.objects.filter(pk__in=range(1001)).exists()', /ValueError: 'pk__in' takes at most 1000 values/);
      await fails('User.objects.create(username="x")', /NotImplementedError: User\.objects\.create is not available.*read-only/);
      await fails('User.objects.filter(pk=1).delete()', /AttributeError/);
      await fails('User.objects = None', /AttributeError: .*read-only/);
      await fails('User()', /TypeError: .*cannot be created/);
      await fails(
        'from authentik.core.models import Group',
        /ImportError: cannot import name 'Group' from 'authentik\.core\.models': the Django ORM is not available/,
      );
      await fails('from authentik.core.models import Application', /ImportError: .*'Application'.*Django ORM is not available/);
      await fails('import authentik.core.models as m\nm.Token.objects.all()', /Django ORM is not available/);
      await fails('from authentik.policies.models import PolicyBinding', /ModuleNotFoundError: No module named 'authentik\.policies'/);
      // and outside an expression policy (no host to ask) User.objects says so instead of answering
      const bare = await evaluate({ source: 'from authentik.core.models import User\nreturn User.objects.filter(pk=1).exists()' });
      assert.ok(!bare.ok);
      assert.match(bare.error, /^NotImplementedError: User\.objects is not available in this context/);
    });

    it('authentik’s "Ensure unique email addresses", its three versions unchanged, on the sign-up prompt', async () => {
      const a = await policy(UNIQUE_EMAIL_A);
      const b = await policy(UNIQUE_EMAIL_B);
      const c = await policy(UNIQUE_EMAIL_C);
      const prompt = (await call(srv, 'GET', '/stages/prompt/stages/?name=default-enrollment-prompt')).body.results[0];
      assert.ok(prompt, 'the default sign-up prompt stage');
      const builtIn = prompt.validation_policies as string[];

      const signUp = (username: string, email: string) => ({
        component: 'ak-stage-prompt',
        username,
        name: 'New Comer',
        email,
        password: 'a-long-enough-secret',
        password_repeat: 'a-long-enough-secret',
      });
      const refusal = { non_field_errors: [{ string: 'Email address in use', code: 'invalid' }] };
      const created = async (username: string) =>
        (await call(srv, 'GET', `/core/users/?username=${encodeURIComponent(username)}`)).body.results as { email: string }[];

      for (const [label, pk, taken] of [
        ['A', a, 'bob@example.com'],
        ['B', b, 'BOB@Example.COM'],
        ['C', c, 'Bob@EXAMPLE.com'],
      ] as const) {
        const patched = await call(srv, 'PATCH', `/stages/prompt/stages/${prompt.pk}/`, { validation_policies: [...builtIn, pk] });
        assert.equal(patched.status, 200, JSON.stringify(patched.body));
        const person = new Browser(srv.api);
        assert.equal((await person.get(FLOW)).body.component, 'ak-stage-prompt');
        const username = `new-${label.toLowerCase()}-${PATH}`;
        const refused = await person.solve(FLOW, signUp(username, taken) as never);
        assert.equal(refused.body.component, 'ak-stage-prompt', label);
        assert.deepEqual(refused.body.response_errors, refusal, label);
        assert.deepEqual(await created(username), [], `${label}: nothing created`);
        // an address with LIKE's wildcards that only a wildcard would match is not taken
        const email = `n_w-${label.toLowerCase()}%@example.com`;
        const done = await person.solve(FLOW, signUp(username, email) as never);
        assert.equal(done.body.component, 'xak-flow-redirect', `${label}: ${JSON.stringify(done.body)}`);
        assert.deepEqual(
          (await created(username)).map((x) => x.email),
          [email],
          label,
        );
        assert.equal((await person.me()).body.user.username, username);
        // the new address is now taken too
        const again = new Browser(srv.api);
        await again.get(FLOW);
        const second = await again.solve(FLOW, signUp(`again-${username}`, label === 'A' ? email : email.toUpperCase()) as never);
        assert.deepEqual(second.body.response_errors, refusal, `${label}: the new address is taken`);
      }
      // A compares exactly, as authentik's (PostgreSQL) does: another case is another address there
      const exact = await test(a, { prompt_data: { email: 'BOB@example.com' } });
      assert.equal(exact.passing, true);

      // B and C leave out the pending user; C the logged-in user too
      const own = { prompt_data: { email: 'bob@EXAMPLE.com' } };
      const pending = { ...own, pending_user: { pk: ids.bob, username: `bob-${PATH}` } };
      assert.deepEqual(await test(b, own, ids.bob), { passing: false, messages: ['Email address in use'], log_messages: [] });
      assert.equal((await test(b, pending, ids.alice)).passing, true);
      assert.equal((await test(c, pending, ids.alice)).passing, true);
      assert.equal((await test(c, own, ids.bob)).passing, true, 'C: the logged-in user’s own address');
      assert.equal((await test(c, own, ids.alice)).passing, false, 'C: someone else’s');
      await call(srv, 'PATCH', `/stages/prompt/stages/${prompt.pk}/`, { validation_policies: builtIn });
    });
  });
}
