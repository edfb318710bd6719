/**
 * DjangoQL on `GET /core/users/?search=`: comparisons, `and`/`or` (no precedence: chains nest to the right, as
 * djangoql's parser does), JSON attributes, and the fallback to the plain search for anything that is not a valid
 * query for the user fields. Values are bound parameters, so an injection attempt is just a string that matches nothing.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { DjangoQLError, QL_LIMITS, parseDjangoQL } from '../../src/rest/djangoql.js';

describe('DjangoQL parser', () => {
  it('parses comparisons, lists, escapes and nests and/or chains to the right', () => {
    assert.deepEqual(parseDjangoQL('username = "a\\"b\\\\c\\n\\u0041"'), { kind: 'cmp', name: ['username'], op: '=', value: 'a"b\\cnA' });
    assert.deepEqual(parseDjangoQL('attributes.a.b not in ("x", -1.5e2, True, None)'), {
      kind: 'cmp',
      name: ['attributes', 'a', 'b'],
      op: 'not in',
      value: ['x', -150, true, null],
    });
    const t = parseDjangoQL('a = 1 and b = 2 or c = 3');
    assert.equal(t.kind === 'logical' && t.op, 'and');
    assert.equal(t.kind === 'logical' && t.right.kind === 'logical' && t.right.op, 'or');
    const p = parseDjangoQL('(a = 1 and b = 2) or c = 3');
    assert.equal(p.kind === 'logical' && p.op, 'or');
    assert.equal(p.kind === 'logical' && p.left.kind === 'logical' && p.left.op, 'and');
  });

  it('rejects what djangoql rejects, and bounds length and depth', () => {
    const bad = [
      'akadmin',
      'username = "x',
      'username = true',
      'is_active > True',
      'username ~ 3',
      'a in ()',
      'a in ("x",)',
      'a = 1 and',
      'user . name = "x"',
      'a..b = "x"',
      '1 = 1',
      'a = "x" b = "y"',
      'a = "x" ^',
      'a not = "x"',
    ];
    for (const q of bad) assert.throws(() => parseDjangoQL(q), DjangoQLError, q);
    const nest = (n: number) => '('.repeat(n) + 'a = "x"' + ')'.repeat(n);
    assert.doesNotThrow(() => parseDjangoQL(nest(QL_LIMITS.depth)));
    assert.throws(() => parseDjangoQL(nest(QL_LIMITS.depth + 1)), DjangoQLError);
    assert.throws(() => parseDjangoQL(`a = "${'x'.repeat(QL_LIMITS.length)}"`), DjangoQLError);
    const chain = (n: number) => Array.from({ length: n }, () => 'a = "x"').join(' or ');
    assert.doesNotThrow(() => parseDjangoQL(chain(QL_LIMITS.comparisons)));
    assert.throws(() => parseDjangoQL(chain(QL_LIMITS.comparisons + 1)), DjangoQLError);
  });
});

for (const dialect of dialects()) {
  describe(`DjangoQL user search (${dialect})`, () => {
    let srv: TestServer;
    const search = async (q: string) => {
      const r = await call(srv, 'GET', `/core/users/?page_size=100&search=${encodeURIComponent(q)}`);
      assert.equal(r.status, 200, `${q}: ${JSON.stringify(r.body)}`);
      return (r.body.results as { username: string }[])
        .map((u) => u.username)
        .filter((u) => u.startsWith('ql-'))
        .sort();
    };
    before(async () => {
      srv = await startServer(dialect);
      const users = [
        {
          username: 'ql-a',
          name: 'Alice Ops',
          email: 'alice@example.com',
          attributes: { dept: 'ops', level: 3, nested: { k: 'v' } },
          last_login: '2024-05-01T10:00:00Z',
        },
        { username: 'ql-b', name: 'Bob', email: 'bob@example.org', is_active: false, attributes: { dept: 'dev', remote: true } },
        { username: 'ql-c', name: 'Carol', email: 'carol@corp.test', type: 'external', path: 'users/ext', attributes: { dept: 'ops' } },
        { username: 'ql-d', name: 'say "hi" 100%', email: 'd@corp.test', attributes: {} },
        { username: 'ql-e', name: 'level = "3"', email: 'e@corp.test' },
      ];
      for (const u of users) assert.equal((await call(srv, 'POST', '/core/users/', u)).status, 201, u.username);
    });
    after(async () => srv.close());

    it('compares strings exactly, ~ ignores case, startswith/endswith, in and not in', async () => {
      assert.deepEqual(await search('username = "ql-a"'), ['ql-a']);
      assert.deepEqual(await search('username = "QL-A"'), [], '= is case-sensitive');
      assert.deepEqual(await search('email ~ "EXAMPLE"'), ['ql-a', 'ql-b']);
      assert.deepEqual(await search('email !~ "example" and username startswith "ql-"'), ['ql-c', 'ql-d', 'ql-e']);
      assert.deepEqual(await search('username != "ql-a" and email endswith "@corp.test"'), ['ql-c', 'ql-d', 'ql-e']);
      assert.deepEqual(await search('username in ("ql-a", "ql-b")'), ['ql-a', 'ql-b']);
      assert.deepEqual(await search('username startswith "ql-" and username not in ("ql-a", "ql-b")'), ['ql-c', 'ql-d', 'ql-e']);
      assert.deepEqual(await search('name = "say \\"hi\\" 100%"'), ['ql-d'], 'escaped quotes');
      assert.deepEqual(await search('name ~ "0%"'), ['ql-d'], '% is not a wildcard');
      assert.deepEqual(await search('name ~ "_"'), [], '_ is not a wildcard');
      assert.deepEqual(await search('username > "ql-c" and username <= "ql-e"'), ['ql-d', 'ql-e']);
      assert.deepEqual(await search('type = "external"'), ['ql-c']);
      assert.deepEqual(await search('path = "users/ext"'), ['ql-c']);
    });

    it('booleans, None, timestamps and uuid', async () => {
      assert.deepEqual(await search('is_active = False'), ['ql-b']);
      assert.deepEqual(await search('username startswith "ql-" and is_active != False'), ['ql-a', 'ql-c', 'ql-d', 'ql-e']);
      assert.deepEqual(await search('is_active = None'), []);
      assert.deepEqual(await search('(username = "ql-a" or username = "ql-b") and is_active = True'), ['ql-a']);
      assert.deepEqual(await search('last_login = "2024-05-01 10:00"'), ['ql-a']);
      assert.deepEqual(await search('last_login > "2024-05-01" and last_login < "2024-05-02"'), ['ql-a']);
      assert.deepEqual(await search('last_login ~ "2024-05-01 10"'), ['ql-a']);
      assert.deepEqual(await search('username startswith "ql-" and last_login != None'), ['ql-a']);
      assert.deepEqual(await search('username startswith "ql-" and last_login = None'), ['ql-b', 'ql-c', 'ql-d', 'ql-e']);
      assert.deepEqual(
        await search('username startswith "ql-" and last_login != "2024-05-01 10:00"'),
        ['ql-b', 'ql-c', 'ql-d', 'ql-e'],
        'NULL is "not equal"',
      );
      assert.deepEqual(await search('username startswith "ql-" and date_joined > "2000-01-01"'), ['ql-a', 'ql-b', 'ql-c', 'ql-d', 'ql-e']);
      const a = await call(srv, 'GET', '/core/users/?username=ql-a');
      const uuid = a.body.results[0].uuid as string;
      assert.deepEqual(await search(`uuid = "${uuid.toUpperCase()}"`), ['ql-a']);
    });

    it('and/or without parentheses nest to the right, as in djangoql', async () => {
      // `b and (active or a)`: nothing (b is inactive); SQL precedence would give ql-a
      assert.deepEqual(await search('username = "ql-b" and is_active = True or username = "ql-a"'), []);
      assert.deepEqual(await search('(username = "ql-b" and is_active = True) or username = "ql-a"'), ['ql-a']);
    });

    it('attributes.<key> compares JSON strings; != includes users without the key', async () => {
      assert.deepEqual(await search('attributes.dept = "ops"'), ['ql-a', 'ql-c']);
      assert.deepEqual(await search('attributes.dept in ("dev", "nobody")'), ['ql-b']);
      assert.deepEqual(await search('attributes.nested.k = "v"'), ['ql-a']);
      assert.deepEqual(await search('attributes.dept ~ "O"'), ['ql-a', 'ql-c']);
      assert.deepEqual(await search('attributes.level = "3"'), [], 'the number 3 is not the string "3"');
      assert.deepEqual(await search('attributes.level ~ "3"'), ['ql-a'], '~ compares the text of any value');
      assert.deepEqual(await search('attributes.remote ~ "true"'), ['ql-b']);
      assert.deepEqual(await search('username startswith "ql-" and attributes.dept != "ops"'), ['ql-b', 'ql-d', 'ql-e']);
      assert.deepEqual(await search('attributes.dept > "dev"'), ['ql-a', 'ql-c']);
    });

    it('anything that is not valid DjangoQL for users falls back to the plain search', async () => {
      assert.deepEqual(await search('ql-a'), ['ql-a'], 'a plain term');
      assert.deepEqual(await search('example.org'), ['ql-b'], 'a name with no comparison');
      assert.deepEqual(await search('alice ops'), ['ql-a'], 'every term must match');
      assert.deepEqual(await search('level = "3"'), ['ql-e'], 'unknown field: plain search for level, =, 3');
      assert.deepEqual(await search('username = "ql-a'), [], 'unterminated string: plain search matches nothing');
      assert.deepEqual(await search('attributes.level = 3'), [], 'a number for a string field');
      assert.deepEqual(await search('is_active = true'), [], 'keywords are case-sensitive');
      assert.deepEqual(await search('username.x = "ql-a"'), [], 'no sub-fields of a string field');
      const all = await search('');
      assert.equal(all.length, 5, 'an empty search does not filter');
      const long = await call(srv, 'GET', `/core/users/?search=${encodeURIComponent(`username = "${'x'.repeat(5000)}"`)}`);
      assert.equal(long.status, 200);
      assert.equal(long.body.pagination.count, 0);
    });

    it('values are bound parameters: an injection attempt matches nothing', async () => {
      for (const q of [
        `username = "x' or 1=1 --"`,
        `username = "x\\" or 1=1 --"`,
        `attributes.dept = "') or 1=1 --"`,
        `attributes.dept ~ "%' or '1'='1"`,
        `username in ("a') or ('1'='1")`,
      ]) {
        const r = await call(srv, 'GET', `/core/users/?search=${encodeURIComponent(q)}`);
        assert.equal(r.status, 200, q);
        assert.equal(r.body.pagination.count, 0, q);
      }
      assert.equal((await call(srv, 'GET', '/core/users/?search=' + encodeURIComponent('attributes.x\'y = "1"'))).body.pagination.count, 0);
      assert.deepEqual(await search('username = "ql-a"'), ['ql-a'], 'the table is intact');
    });
  });
}
