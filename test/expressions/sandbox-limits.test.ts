/**
 * The runtime's limits: an expression that runs forever is cut off at its timeout, one that allocates without bound
 * gets a MemoryError at the memory cap, deep recursion fails, floods of messages, logs, host calls and output are
 * bounded; each is a typed result (never a throw, never a crash of this process), and the next evaluation works
 * (a killed worker is replaced on the next call). And the start: lazy, shared by concurrent first calls, a failed
 * start answers `unavailable`.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ExpressionRuntime,
  MAX_HOST_CALLS,
  MAX_MESSAGES,
  MAX_MESSAGE_CHARS,
  type EvaluateResult,
  type JsonObject,
} from '../../src/expressions/index.js';

const rt = new ExpressionRuntime();
after(() => rt.stop());
const run = (source: string, options: { timeoutMs?: number; host?: object; globals?: JsonObject } = {}) =>
  rt.evaluate({ source, globals: options.globals ?? {}, host: options.host ?? {}, timeoutMs: options.timeoutMs ?? 15_000 });

function failure(r: EvaluateResult) {
  assert.equal(r.ok, false, `expected a failure, got ${JSON.stringify(r).slice(0, 300)}`);
  return r as Extract<EvaluateResult, { ok: false }>;
}
async function stillFine() {
  assert.deepEqual(await run('return 6 * 7'), { ok: true, value: 42, truthy: true, messages: [], logs: [] });
}

describe('start', () => {
  it('nothing starts at construction; concurrent first calls share one start', async () => {
    const fresh = new ExpressionRuntime();
    assert.equal(fresh.status().starts, 0);
    assert.equal(fresh.status().loaded, false);
    const [a, b, c] = await Promise.all([
      fresh.evaluate({ source: 'return 1' }),
      fresh.checkSyntax('return ('),
      fresh.evaluate({ source: 'return 2' }),
    ]);
    assert.equal(a.ok && a.value, 1);
    assert.equal(c.ok && c.value, 2);
    assert.equal(b.ok, false);
    assert.equal(fresh.status().starts, 1);
    assert.equal(fresh.status().loaded, true);
    await fresh.stop();
    assert.equal(fresh.status().loaded, false);
  });

  it('a start that fails answers unavailable, to everyone waiting, and is retried only after a while', async () => {
    // a V8 heap cap below what pyodide needs to load: a real load failure (the worker runs out of memory)
    const broken = new ExpressionRuntime({ heapLimitMb: 4, retryAfterMs: 60_000 });
    const [a, b] = await Promise.all([broken.evaluate({ source: 'return 1' }), broken.checkSyntax('return 1')]);
    assert.equal(a.ok, false);
    assert.equal(!a.ok && a.kind, 'unavailable');
    assert.deepEqual(Object.keys(b).sort(), ['line', 'message', 'ok', 'unavailable']);
    assert.equal(broken.status().starts, 1);
    const again = await broken.evaluate({ source: 'return 1' });
    assert.equal(!again.ok && again.kind, 'unavailable');
    assert.equal(broken.status().starts, 1, 'no new start within retryAfterMs');
    await broken.stop();
  });

  it('a start that takes too long answers unavailable', async () => {
    const slow = new ExpressionRuntime({ loadTimeoutMs: 1 });
    const r = failure(await slow.evaluate({ source: 'return 1' }));
    assert.equal(r.kind, 'unavailable');
    assert.match(r.error, /did not load within 1 ms/);
    await slow.stop();
  });
});

describe('time', () => {
  it('while True: pass is cut off at timeoutMs; the next call starts a new worker', async () => {
    await stillFine();
    const starts = rt.status().starts;
    const t = performance.now();
    const r = failure(await run('while True:\n    pass', { timeoutMs: 300 }));
    const took = performance.now() - t;
    assert.equal(r.kind, 'timeout');
    assert.match(r.error, /did not finish within 300 ms/);
    assert.ok(took < 2000, `cut off after ${took} ms`);
    assert.equal(rt.status().loaded, false);
    await stillFine();
    assert.equal(rt.status().starts, starts + 1);
  });

  it('time.sleep and a busy C loop (a catastrophic regex) are cut off too', async () => {
    assert.equal(failure(await run('import time\ntime.sleep(100)', { timeoutMs: 300 })).kind, 'timeout');
    assert.equal(failure(await run('import re\nreturn re.match("(a+)+$", "a" * 40 + "b")', { timeoutMs: 300 })).kind, 'timeout');
    await stillFine();
  });

  it('a host callback that never answers: the evaluation times out, its late answer harms nothing', async () => {
    let release: () => void = () => {};
    const host = { ak_user_by: () => new Promise<JsonObject | null>((resolve) => (release = () => resolve({ username: 'late' }))) };
    const r = failure(await run('return ak_user_by(username="x")', { timeoutMs: 300, host }));
    assert.equal(r.kind, 'timeout');
    release();
    await stillFine();
    const n = await run('return ak_user_by(username="x").username', { host: { ak_user_by: () => ({ username: 'now' }) } });
    assert.equal(n.ok && n.value, 'now');
  });

  it('other queued calls wait for the cut-off one and then run', async () => {
    const [slow, fast] = await Promise.all([run('while True:\n    pass', { timeoutMs: 300 }), run('return "after"')]);
    assert.equal(!slow.ok && slow.kind, 'timeout');
    assert.equal(fast.ok && fast.value, 'after');
  });
});

describe('memory', () => {
  it("'x' * 10**9 is a MemoryError at the cap (kind memory); the worker is replaced", async () => {
    const r = failure(await run("x = 'x' * (10**9)\nreturn len(x)"));
    assert.equal(r.kind, 'memory');
    assert.match(r.error, /MemoryError/);
    await stillFine();
  });

  it("'x' * 10**10 is refused", async () => {
    failure(await run("return len('x' * 10**10)"));
    await stillFine();
  });

  it('a list growing forever stops at the cap', async () => {
    const r = failure(await run("l = []\nwhile True:\n    l.append('x' * 100000)"));
    assert.equal(r.kind, 'memory');
    await stillFine();
  });

  it('bytearray(2**30) is a MemoryError', async () => {
    assert.equal(failure(await run('return len(bytearray(2**30))')).kind, 'memory');
    await stillFine();
  });

  it('buffers made on the JavaScript side (pyodide.ffi.to_js, reached past the guard) are cut off by the process watch', async () => {
    const source = [
      'import gc',
      'ffi = [o for o in gc.get_objects() if type(o).__name__ == "module" and o.__name__ == "pyodide.ffi"][0]',
      'keep = []',
      'b = b"x" * 50_000_000',
      'while True:',
      '    keep.append(ffi.to_js(b))',
    ].join('\n');
    const before = process.memoryUsage.rss();
    const r = failure(await run(source, { timeoutMs: 60_000 }));
    assert.equal(r.kind, 'memory');
    assert.match(r.error, /too much memory/);
    await stillFine();
    assert.ok(process.memoryUsage.rss() - before < 256 * 2 ** 20, 'the memory was given back');
  });
});

describe('recursion', () => {
  it('deep recursion is a RecursionError', async () => {
    const r = failure(await run('def f(n):\n    return f(n + 1)\nreturn f(0)'));
    assert.equal(r.kind, 'exception');
    assert.match(r.error, /^RecursionError/);
    await stillFine();
  });

  it('with the recursion limit raised, the stack runs out: a failure, then a working interpreter', async () => {
    const r = failure(await run('import sys\nsys.setrecursionlimit(10**7)\ndef f(n):\n    return f(n + 1)\nreturn f(0)'));
    assert.notEqual(r.kind, 'timeout');
    await stillFine();
  });
});

describe('floods', () => {
  it('ak_message: at most MAX_MESSAGES, each at most MAX_MESSAGE_CHARS', async () => {
    const r = await run("for i in range(100000):\n    ak_message('x' * 10000)\nreturn True");
    assert.ok(r.ok);
    assert.equal(r.messages.length, MAX_MESSAGES);
    assert.ok(r.messages.every((m) => m.length <= MAX_MESSAGE_CHARS));
    assert.match(r.logs.at(-1)?.event ?? '', /further messages dropped|further log lines dropped/);
  });

  it('ak_logger: bounded lines and attributes', async () => {
    const r = await run("for i in range(100000):\n    ak_logger.info('y' * 10000, big='z' * 100000)\nreturn True");
    assert.ok(r.ok);
    assert.ok(r.logs.length <= 101);
    assert.ok(JSON.stringify(r.logs).length < 1_000_000);
  });

  it('print() goes nowhere, however much', async () => {
    const r = await run(
      "import sys\nfor i in range(200):\n    print('p' * 100000)\n    print('e' * 100000, file=sys.stderr)\nsys.stdout = sys.__stdout__\nfor i in range(20):\n    print('q' * 100000)\nreturn 'done'",
    );
    assert.equal(r.ok && r.value, 'done');
  });

  it('a result too large to send is refused', async () => {
    const r = failure(await run("return 'x' * (5 * 10**6)"));
    assert.match(r.error, /too large/);
    await stillFine();
  });

  it('host calls: at most MAX_HOST_CALLS per evaluation', async () => {
    let events = 0;
    const host = { ak_create_event: () => void events++ };
    const r = failure(await run('for i in range(100000):\n    ak_create_event("x")', { host }));
    assert.match(r.error, new RegExp(`at most ${MAX_HOST_CALLS} times`));
    assert.equal(events, MAX_HOST_CALLS);
    await stillFine();
  });

  it('arguments and answers of host calls are bounded', async () => {
    const host = { ak_user_by: (f: JsonObject) => ({ username: 'u', blob: 'b'.repeat(Number(f.n)) }) };
    const big = failure(await run("return ak_user_by(username='x' * 10**6)", { host }));
    assert.match(big.error, /too large/);
    const answer = failure(await run('return ak_user_by(n=3 * 10**6)', { host }));
    assert.match(answer.error, /too large/);
    const fine = await run('return len(ak_user_by(n=1000).blob)', { host });
    assert.equal(fine.ok && fine.value, 1000);
  });
});

describe('exits', () => {
  it('exit(), sys.exit(), raise SystemExit, KeyboardInterrupt: failures, the interpreter keeps working', async () => {
    for (const source of ['exit()', 'import sys\nsys.exit(3)', 'raise SystemExit', 'raise KeyboardInterrupt']) {
      assert.equal(failure(await run(source)).kind, 'exception');
    }
    await stillFine();
  });
});
