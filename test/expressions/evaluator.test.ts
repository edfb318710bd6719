/**
 * The expression runtime runs authentik's expressions as authentik does: the scenarios of authentik's evaluator tests
 * (authentik/lib/tests/test_evaluator.py, authentik/policies/expression/tests.py) and of its expression docs, against
 * the real worker and interpreter, with host callbacks standing in for Keystage's data.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { ExpressionRuntime, type EvaluateResult, type JsonObject } from '../../src/expressions/index.js';

const rt = new ExpressionRuntime();
after(() => rt.stop());

const alice = {
  pk: 7,
  username: 'alice',
  email: 'alice@example.com',
  name: 'Alice Example',
  is_active: true,
  is_superuser: false,
  attributes: { team: 'blue', 'goauthentik.io/user/can-change-username': false },
};
const request = (over: JsonObject = {}): JsonObject => ({
  user: alice,
  http_request: { path: '/', method: 'GET', headers: { 'user-agent': 'Firefox', 'x-forwarded-for': '10.1.2.3' }, client_ip: '10.1.2.3' },
  obj: null,
  context: {},
  ...over,
});

function ok(r: EvaluateResult) {
  assert.equal(r.ok, true, r.ok ? '' : `${r.kind}: ${r.error}\n${r.traceback ?? ''}`);
  return r as Extract<EvaluateResult, { ok: true }>;
}
function failed(r: EvaluateResult) {
  assert.equal(r.ok, false, `expected a failure, got ${JSON.stringify(r)}`);
  return r as Extract<EvaluateResult, { ok: false }>;
}
const run = (source: string, globals: JsonObject = { request: request() }, host = {}) =>
  rt.evaluate({ source, globals, host, timeoutMs: 10_000 });

describe('authentik BaseEvaluator functions (test_evaluator.py)', () => {
  it('regex_match: re.search', async () => {
    assert.equal(ok(await run('return regex_match("foo", "bar")')).value, false);
    assert.equal(ok(await run('return regex_match("foo", "foo")')).value, true);
    assert.equal(ok(await run("return regex_match(request.user.username, '.*ali.*')")).value, true);
  });

  it('regex_replace: re.sub', async () => {
    assert.equal(ok(await run('return regex_replace("foo", "o", "a")')).value, 'faa');
    assert.equal(ok(await run("return regex_replace(request.user.email, '(.+)@.+', r'\\1')")).value, 'alice');
  });

  it('list_flatten: the first element, None for an empty list, the value itself otherwise', async () => {
    assert.deepEqual(ok(await run('return [list_flatten(["foo"]), list_flatten([]), list_flatten("bar")]')).value, ['foo', null, 'bar']);
  });

  it('ak_user_by: the user the host finds, None otherwise (also for an unknown field)', async () => {
    const calls: JsonObject[] = [];
    const host = {
      ak_user_by: (filters: JsonObject) => {
        calls.push(filters);
        return filters.username === 'alice' ? alice : null;
      },
    };
    const r = ok(
      await run(
        'u = ak_user_by(username="alice")\nreturn [u is not None, u.username, u.pk, ak_user_by(username="bar"), ak_user_by(foo="bar")]',
        {},
        host,
      ),
    );
    assert.deepEqual(r.value, [true, 'alice', 7, null, null]);
    assert.deepEqual(calls, [{ username: 'alice' }, { username: 'bar' }, { foo: 'bar' }]);
  });

  it('ak_is_group_member: asks the host with the user and the group filters', async () => {
    const seen: Array<[JsonObject, JsonObject]> = [];
    const host = {
      ak_is_group_member: async (user: JsonObject, filters: JsonObject) => {
        seen.push([user, filters]);
        return filters.name === 'admins';
      },
    };
    const r = ok(
      await run('return [ak_is_group_member(request.user, name="test"), ak_is_group_member(request.user, name="admins")]', undefined, host),
    );
    assert.deepEqual(r.value, [false, true]);
    assert.equal(seen[0]![0].username, 'alice');
    assert.deepEqual(seen[0]![1], { name: 'test' });
    // authentik: AttributeError for something that is no user
    const e = failed(await run('return ak_is_group_member(None, name="x")', undefined, host));
    assert.match(e.error, /AttributeError: 'NoneType' object has no attribute 'all_groups'/);
  });

  it('ak_user_has_authenticator: with and without a device type', async () => {
    const host = { ak_user_has_authenticator: (_u: JsonObject, type: string | null) => type === null || type === 'totp' };
    assert.deepEqual(
      ok(
        await run(
          'return [ak_user_has_authenticator(request.user), ak_user_has_authenticator(request.user, "totp"), ak_user_has_authenticator(request.user, device_type="webauthn")]',
          undefined,
          host,
        ),
      ).value,
      [true, true, false],
    );
  });

  it('ak_create_event: the action and the keyword arguments reach the host', async () => {
    const events: Array<[string, JsonObject]> = [];
    const r = ok(
      await run("ak_create_event('foo', bar='baz', user=request.user)", undefined, {
        ak_create_event: (a: string, k: JsonObject) => void events.push([a, k]),
      }),
    );
    assert.equal(r.value, null);
    assert.equal(events[0]![0], 'foo');
    assert.equal(events[0]![1].bar, 'baz');
    assert.equal((events[0]![1].user as JsonObject).username, 'alice');
  });

  it('a function the host does not give: NotImplementedError, not a silent None', async () => {
    const e = failed(await run('return ak_user_by(username="alice")', {}, {}));
    assert.equal(e.kind, 'exception');
    assert.match(e.error, /^NotImplementedError: ak_user_by\(\) is not available in this context$/);
  });

  it('a host callback that throws: a ValueError in Python with its message', async () => {
    const host = {
      ak_call_policy: (name: string) => {
        throw new Error(`Policy '${name}' not found.`);
      },
    };
    const e = failed(await run("return ak_call_policy('nope')", undefined, host));
    assert.equal(e.error, "ValueError: Policy 'nope' not found.");
    // and the expression may catch it
    assert.equal(
      ok(await run("try:\n    ak_call_policy('nope')\nexcept ValueError as e:\n    return str(e)", undefined, host)).value,
      "Policy 'nope' not found.",
    );
  });

  it('a host answer of the wrong kind fails the expression (no empty stand-in: CONFIG defaults, no groups, 0 users)', async () => {
    const cases: [string, string, Record<string, () => unknown>, string][] = [
      // authentik's default-user-settings-authorization reads CONFIG with a permissive default: an empty CONFIG would pass
      [
        'from authentik.lib.config import CONFIG\nreturn CONFIG.get_bool("default_user_change_username", True)',
        'config',
        { config: () => null },
        'ValueError: config() gave no object',
      ],
      [
        'return request.user.group_attributes()',
        'group_attributes',
        { group_attributes: () => 'x' },
        'ValueError: group_attributes() gave no object',
      ],
      [
        'return [g.name for g in request.user.all_groups()]',
        'user_groups',
        { user_groups: () => null },
        'ValueError: user_groups() gave no list',
      ],
      [
        'from authentik.core.models import User\nreturn not User.objects.filter(username="x").exists()',
        'exists',
        { user_query: () => null },
        'ValueError: user_query() gave no boolean',
      ],
      [
        'from authentik.core.models import User\nreturn User.objects.filter(username="x").count() == 0',
        'count',
        { user_query: () => true },
        'ValueError: user_query() gave no number',
      ],
      ['return [u.username for u in User.objects.all()]', 'list', { user_query: () => ({}) }, 'ValueError: user_query() gave no list'],
      [
        'return ak_call_policy("p").passing is False',
        'ak_call_policy',
        { ak_call_policy: () => 'yes' },
        'ValueError: ak_call_policy() gave no object',
      ],
      [
        'return request.user.app_entitlements("6f1b0e9a-3c5d-4e7f-9a1b-2c3d4e5f6a7b")',
        'app_entitlements',
        { app_entitlements: () => 1 },
        'ValueError: app_entitlements() gave no list',
      ],
    ];
    for (const [source, label, host, error] of cases) {
      const text = source.includes('User.objects.all') ? `from authentik.core.models import User\n${source}` : source;
      const e = failed(await run(text, undefined, host));
      assert.equal(e.kind, 'exception', label);
      assert.equal(e.error, error, label);
    }
    // the same expressions with well-formed answers run
    assert.equal(
      ok(
        await run('from authentik.lib.config import CONFIG\nreturn CONFIG.get_bool("default_user_change_username", True)', undefined, {
          config: () => ({ default_user_change_username: false }),
        }),
      ).value,
      false,
    );
    assert.equal(
      ok(
        await run('from authentik.core.models import User\nreturn User.objects.filter(username="x").count()', undefined, {
          user_query: () => 3,
        }),
      ).value,
      3,
    );
  });

  it('requests, ak_create_jwt and the other network or token functions are refused with a clear error', async () => {
    for (const [source, name] of [
      ['return requests.get("http://127.0.0.1/")', 'requests'],
      ['return ak_create_jwt(request.user, "provider", ["openid"])', 'ak_create_jwt'],
      ['return ak_send_email("a@example.com", "s", body="b")', 'ak_send_email'],
      ['return resolve_dns("example.com")', 'resolve_dns'],
    ] as const) {
      const e = failed(await run(source));
      assert.match(e.error, new RegExp(`^NotImplementedError: ${name} is not available in Keystage`));
    }
  });

  it('slugify as Django', async () => {
    assert.equal(ok(await run('return slugify(" Héllo, World! ")')).value, 'hello-world');
  });
});

describe('authentik PolicyEvaluator (policies/expression/tests.py)', () => {
  it('return True passes; a value is returned as JSON with its truthiness', async () => {
    const r = ok(await run('return True'));
    assert.equal(r.value, true);
    assert.equal(r.truthy, true);
    const t = ok(await run("return 'test'"));
    assert.equal(t.value, 'test');
    assert.equal(t.truthy, true);
    const z = ok(await run('return {"a": [1, 2.5, None], "b": ("x",)}'));
    assert.deepEqual(z.value, { a: [1, 2.5, null], b: ['x'] });
  });

  it('a missing return is None (falsy)', async () => {
    const r = ok(await run('x = 1'));
    assert.equal(r.value, null);
    assert.equal(r.truthy, false);
  });

  it('ak_message collects messages, in order', async () => {
    const r = ok(await run('ak_message("some message");return False'));
    assert.equal(r.truthy, false);
    assert.deepEqual(r.messages, ['some message']);
    const m = ok(await run('ak_message(request.http_request.path)\nak_message(42)\nreturn True'));
    assert.deepEqual(m.messages, ['/', '42']);
  });

  it("an exception is a failure with the traceback's last line, and the traceback in the admin's lines", async () => {
    const e = failed(await run('x = 1\ny = 2\nreturn foo', undefined));
    assert.equal(e.kind, 'exception');
    assert.equal(e.error, "NameError: name 'foo' is not defined");
    assert.deepEqual(e.exception, { type: 'NameError', message: "name 'foo' is not defined" });
    assert.match(e.traceback!, /File "PolicyEvaluator", line 3, in handler\n {4}return foo\n/);
    assert.doesNotMatch(e.traceback!, /<module>/);
    const z = failed(await rt.evaluate({ source: 'return 1/0', filename: 'my-policy' }));
    assert.equal(z.error, 'ZeroDivisionError: division by zero');
    assert.match(z.traceback!, /File "my-policy", line 1, in handler/);
  });

  it('invalid syntax fails the evaluation (authentik: PolicyException)', async () => {
    const e = failed(await run(';'));
    assert.equal(e.kind, 'exception');
    assert.match(e.error, /^SyntaxError: invalid syntax \(line 1\)$/);
  });

  it("ak_call_policy returns a PolicyResult (passing, messages, raw_result), always truthy as authentik's", async () => {
    const host = {
      ak_call_policy: (name: string, context: JsonObject) => ({
        passing: name === 'ok',
        messages: ['/', String(context.foo ?? '')],
        raw_result: 'raw',
      }),
    };
    const source = [
      'ak_message(request.http_request.path)',
      "res = ak_call_policy('ok', foo='bar')",
      'ak_message(request.http_request.path)',
      'for msg in res.messages:',
      '    ak_message(msg)',
      "return [res.passing, res.raw_result, bool(ak_call_policy('no')), ak_call_policy('no').passing]",
    ].join('\n');
    const r = ok(await run(source, undefined, host));
    assert.deepEqual(r.messages, ['/', '/', '/', 'bar']);
    assert.deepEqual(r.value, [true, 'raw', true, false]);
  });

  it('ak_call_policy of an expression policy: the host answers its text and it runs in place (test_call_policy)', async () => {
    // authentik's test: the called policy messages the path and passes; the caller messages the path around the
    // call and then the called policy's messages
    const policies: Record<string, string> = {
      inner: 'ak_message(request.http_request.path)\nreturn True',
      ctx: 'ak_message(request.context["foo"])\nreturn request.context["foo"] == "bar"',
      broken: 'return 1/0',
      loop: 'return ak_call_policy("loop").passing',
    };
    const host = {
      ak_call_policy: (name: string) => {
        if (!(name in policies)) throw new Error(`Policy '${name}' not found.`);
        return { expression: policies[name]!, name };
      },
    };
    const source = [
      'ak_message(request.http_request.path)',
      "res = ak_call_policy('inner')",
      'ak_message(request.http_request.path)',
      'for msg in res.messages:',
      '    ak_message(msg)',
      "c = ak_call_policy('ctx', foo='bar')",
      "b = ak_call_policy('broken')",
      "return [res.passing, res.raw_result, c.passing, list(c.messages), 'foo' in request.context, b.passing, list(b.messages)]",
    ].join('\n');
    const r = ok(await run(source, undefined, host));
    assert.deepEqual(r.messages, ['/', '/', '/']);
    assert.deepEqual(r.value, [true, true, true, ['bar'], false, false, ['division by zero']]);
    // policies that call each other without end stop, as a failure of the outermost
    const loop = ok(await run("return ak_call_policy('loop').passing", undefined, host));
    assert.equal(loop.value, false);
  });

  it('ak_call_policy without a request object (as when testing a policy)', async () => {
    const host = { ak_call_policy: () => ({ passing: true, messages: ['hi'] }) };
    const r = ok(await run("res = ak_call_policy('x')\nfor m in res.messages:\n    ak_message(m)\nreturn res.passing", {}, host));
    assert.deepEqual(r.messages, ['hi']);
    assert.equal(r.value, true);
  });
});

describe('what expressions see (authentik docs: expressions, user and group objects)', () => {
  it('request.user: username, email, name, pk, is_active, is_superuser, is_authenticated, attributes', async () => {
    const r = ok(
      await run(
        'u = request.user\nreturn [u.username, u.email, u.name, u.pk, u.is_active, u.is_superuser, u.is_authenticated, u.attributes["team"], u.attributes.get("nope", "-"), str(u)]',
      ),
    );
    assert.deepEqual(r.value, ['alice', 'alice@example.com', 'Alice Example', 7, true, false, true, 'blue', '-', 'alice']);
  });

  it('context["pending_user"] is a user object; context.get("prompt_data", {}); request.obj; ak_is_sso_flow', async () => {
    const g = {
      request: request({
        obj: { pk: 'a1', name: 'Grafana', slug: 'grafana' },
        context: { pending_user: { ...alice, username: 'pending' }, prompt_data: { username: 'x', email: 'x@corp.example' }, is_sso: true },
      }),
    };
    const r = ok(
      await run(
        'u = request.context["pending_user"]\nreturn [u.username, context["pending_user"].email, request.context.get("prompt_data", {}).get("email"), "username" not in context.get("missing", {}), request.obj.slug, str(request.obj), ak_is_sso_flow]',
        g,
      ),
    );
    assert.deepEqual(r.value, ['pending', 'alice@example.com', 'x@corp.example', true, 'grafana', 'Grafana', true]);
    // authentik's default-blueprint expressions
    assert.equal(ok(await run("return 'username' not in context.get('prompt_data', {})", g)).value, false);
    assert.equal(ok(await run("return request.context.get('is_restored', False)", g)).value, false);
    assert.equal(ok(await run('return ak_is_sso_flow', g)).value, true);
    assert.equal(ok(await run('return ak_is_sso_flow', { request: request() })).value, false);
  });

  it('request.http_request: path, method, headers (case-insensitive), META', async () => {
    const r = ok(
      await run(
        'h = request.http_request\nreturn [h.path, h.method, h.headers["User-Agent"], h.headers.get("user-agent"), h.META["HTTP_USER_AGENT"], h.META["REMOTE_ADDR"], http_request.path]',
      ),
    );
    assert.deepEqual(r.value, ['/', 'GET', 'Firefox', 'Firefox', 'Firefox', '10.1.2.3', '/']);
  });

  it('ak_client_ip is an ipaddress object: ip_network membership, is_private; 255.255.255.255 without an address', async () => {
    assert.equal(ok(await run("return ak_client_ip in ip_network('10.0.0.0/8')")).value, true);
    assert.equal(ok(await run("return ak_client_ip in ip_network('192.168.0.0/16')")).value, false);
    assert.equal(ok(await run('return ak_client_ip.is_private')).value, true);
    assert.equal(ok(await run('return str(ak_client_ip)')).value, '10.1.2.3');
    assert.equal(ok(await run("return ip_address('2001:db8::1') in ip_network('2001:db8::/32')")).value, true);
    const none = { request: request({ http_request: { path: '/', method: 'GET', headers: {} } }) };
    assert.equal(ok(await run('return str(ak_client_ip)', none)).value, '255.255.255.255');
    // without an HTTP request there is no ak_client_ip, as in authentik
    assert.match(failed(await run('return ak_client_ip', { request: request({ http_request: null }) })).error, /^NameError/);
  });

  it('groups: ak_groups.all() / .filter(name=…), all_groups(), group_attributes() (from the data or the host)', async () => {
    const groups = [
      { pk: 'g1', name: 'staff', attributes: { level: 1, tags: ['a'] } },
      { pk: 'g2', name: 'admins', is_superuser: true, attributes: { level: 2, tags: ['b'] } },
    ];
    const asked: boolean[] = [];
    const host = {
      user_groups: (_u: JsonObject, indirect: boolean) => {
        asked.push(indirect);
        return indirect ? [...groups, { pk: 'g0', name: 'everyone', attributes: { level: 0, org: 'x' } }] : groups;
      },
    };
    const source = [
      'u = request.user',
      'return [',
      '  [g.name for g in u.ak_groups.all()],',
      '  u.ak_groups.filter(name="admins").exists(),',
      '  u.ak_groups.filter(name__startswith="st").count(),',
      '  [g.name for g in u.all_groups().order_by("name")],',
      '  u.group_attributes(),',
      '  list(u.ak_groups.values_list("name", flat=True)),',
      ']',
    ].join('\n');
    const r = ok(await run(source, undefined, host));
    assert.deepEqual(r.value, [
      ['staff', 'admins'],
      true,
      1,
      ['admins', 'everyone', 'staff'],
      { level: 1, tags: ['b', 'a'], org: 'x', team: 'blue', 'goauthentik.io/user/can-change-username': false },
      ['staff', 'admins'],
    ]);
    assert.deepEqual(asked, [false, true]);
    // a user's data may carry its groups: no host call then
    const withGroups = { request: request({ user: { ...alice, groups: [{ name: 'inline' }] } }) };
    assert.deepEqual(ok(await run('return [g.name for g in request.user.ak_groups.all()]', withGroups)).value, ['inline']);
  });

  it('ak_logger: collected as {event, level, attributes}', async () => {
    const r = ok(
      await run(
        'ak_logger.info("hello", user=request.user.username)\nak_logger.warning("careful %s", "now")\nak_logger.bind(a=1).debug("bound")\nreturn True',
      ),
    );
    assert.deepEqual(r.logs, [
      { event: 'hello', level: 'info', attributes: { user: 'alice' } },
      { event: 'careful now', level: 'warning', attributes: {} },
      { event: 'bound', level: 'debug', attributes: { a: 1 } },
    ]);
  });

  it('the standard library works (re, datetime, json, hashlib, base64) and dates of users are datetimes', async () => {
    const g = { request: request({ user: { ...alice, password_change_date: '2024-01-02T03:04:05+00:00' } }) };
    const r = ok(
      await run(
        'import datetime, hashlib, base64, json\nd = request.user.password_change_date\nreturn [d.year, (datetime.datetime(2024, 1, 12, tzinfo=datetime.timezone.utc) - d).days, hashlib.sha256(b"x").hexdigest()[:8], base64.b64encode(b"hi").decode(), json.dumps({"a": 1})]',
        g,
      ),
    );
    assert.deepEqual(r.value, [2024, 9, '2d711642', 'aGk=', '{"a": 1}']);
  });

  it('a value that is no JSON is returned as its repr(), its truthiness kept', async () => {
    const r = ok(await run('import re\nreturn re.search("a", "abc")'));
    assert.equal(r.truthy, true);
    assert.match(String(r.value), /^<re\.Match object/);
    assert.equal(ok(await run('return request.user')).truthy, true);
    assert.equal((ok(await run('return request.user')).value as JsonObject).username, 'alice');
  });

  it('the documented examples pass: MFA for one user, email domain, superuser check', async () => {
    const g = {
      request: request({ context: { pending_user: { ...alice, username: 'marie' }, prompt_data: { email: 'bob@evil.example' } } }),
    };
    assert.equal(ok(await run('if request.context["pending_user"].username == "marie":\n    return True\nreturn False', g)).truthy, true);
    const domain = [
      'email = request.context["prompt_data"]["email"]',
      'if email.split("@")[-1] not in ["example.com"]:',
      '    ak_message("Only example.com addresses may sign up")',
      '    return False',
      'return True',
    ].join('\n');
    const d = ok(await run(domain, g));
    assert.equal(d.truthy, false);
    assert.deepEqual(d.messages, ['Only example.com addresses may sign up']);
    assert.equal(
      ok(
        await run(
          'user = request.context.get("pending_user")\nif not user or not user.pk or not user.is_superuser:\n    return False\nreturn True',
          g,
        ),
      ).truthy,
      false,
    );
  });
});

describe("checkSyntax (a 400 on save with the line of the admin's text)", () => {
  it('valid expressions', async () => {
    assert.deepEqual(await rt.checkSyntax('return True'), { ok: true });
    assert.deepEqual(await rt.checkSyntax('True'), { ok: true });
    assert.deepEqual(await rt.checkSyntax('x = 1\nif x:\n    return 2\n'), { ok: true });
  });

  it("authentik's invalid examples, with the line", async () => {
    const semi = await rt.checkSyntax(';');
    assert.equal(semi.ok, false);
    assert.equal((semi as { line: number }).line, 1);
    assert.equal((await rt.checkSyntax('/')).ok, false);
  });

  it("line numbers refer to the admin's text", async () => {
    const r = await rt.checkSyntax('x = 1\ny = 2\nif x\n    return y');
    assert.deepEqual(r, { ok: false, line: 3, column: 5, message: "expected ':'" });
    const unclosed = await rt.checkSyntax('a = 1\nreturn (a,\n');
    assert.equal(unclosed.ok, false);
    assert.equal((unclosed as { line: number }).line, 2);
    const indent = await rt.checkSyntax('x = 1\n  y = 2');
    assert.equal(indent.ok, false);
    assert.equal((indent as { line: number }).line, 2);
    assert.match((indent as { message: string }).message, /indent/);
  });

  it('an empty expression is refused with a message saying so', async () => {
    for (const src of ['', '   \n', '# only a comment']) {
      const r = await rt.checkSyntax(src);
      assert.deepEqual(r, { ok: false, line: 1, column: (r as { column?: number }).column, message: 'the expression has no statement' });
    }
  });

  it('evaluating after checking still works (one worker, one queue)', async () => {
    const [a, b, c] = await Promise.all([rt.checkSyntax('return ('), run('return 41 + 1'), rt.checkSyntax('return 1')]);
    assert.equal(a.ok, false);
    assert.equal(ok(b).value, 42);
    assert.equal(c.ok, true);
  });
});
