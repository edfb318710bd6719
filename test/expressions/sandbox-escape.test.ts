/**
 * Security: an expression cannot leave its sandbox. Each attempt is refused (a Python exception) or cut off (the
 * worker is replaced), nothing happens on the host (no file read or written, no process started, no connection
 * made), and the next evaluation still works. Two layers are tried: Python's refusals (the import guard, os.system),
 * then what is left when those are bypassed (the worker's JavaScript has nothing that reaches Node.js).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ExpressionRuntime, type EvaluateResult, type JsonObject } from '../../src/expressions/index.js';

// a secret in Keystage's environment, set before the worker starts: the worker must not see it
process.env.KEYSTAGE_TEST_SECRET_ENV = `secret-${randomUUID()}`;
const rt = new ExpressionRuntime();
const marker = `/tmp/keystage-escape-${randomUUID()}`;
let connections = 0;
const server = net.createServer((s) => {
  connections++;
  s.destroy();
});
let port = 0;

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});
after(async () => {
  await rt.stop();
  server.close();
  rmSync(marker, { force: true });
});

const run = (source: string, globals: JsonObject = {}, host = {}) => rt.evaluate({ source, globals, host, timeoutMs: 15_000 });

function refused(r: EvaluateResult, pattern?: RegExp) {
  assert.equal(r.ok, false, `expected a refusal, got ${JSON.stringify(r)}`);
  if (pattern && !r.ok) assert.match(r.error, pattern);
}

/** the next evaluation works, and nothing happened on the host */
async function stillFine() {
  const r = await run('return 6 * 7');
  assert.deepEqual(r, { ok: true, value: 42, truthy: true, messages: [], logs: [] });
  assert.equal(existsSync(marker), false, 'a file appeared on the host');
  assert.equal(connections, 0, 'a connection reached the host');
}

describe('Python-side refusals', () => {
  for (const mod of [
    'js',
    'pyodide',
    'pyodide_js',
    '_pyodide',
    '_pyodide_core',
    'pyodide.ffi',
    'micropip',
    'ctypes',
    'subprocess',
    'socket',
    'urllib.request',
  ]) {
    it(`import ${mod}`, async () => {
      // (a package's submodule is refused by its package: pyodide.ffi by pyodide)
      const refusedName = mod === 'pyodide.ffi' ? 'pyodide' : mod.replace('.', '\\.');
      refused(
        await run(`import ${mod}\nreturn True`),
        new RegExp(`^ImportError: import of '${refusedName}' is not allowed in expressions$`),
      );
      await stillFine();
    });
  }

  it('from pyodide.ffi import create_proxy; from js import eval', async () => {
    refused(await run('from pyodide.ffi import create_proxy\nreturn True'), /^ImportError/);
    refused(await run('from js import eval\nreturn True'), /^ImportError/);
    await stillFine();
  });

  it('sys.modules holds none of the JavaScript bridge modules', async () => {
    const r = await run("import sys\nreturn sorted(k for k in sys.modules if k == 'js' or 'pyodide' in k)");
    assert.deepEqual(r.ok && r.value, []);
  });

  it('os.system, os.popen, os.execv, os.fork, os.kill: PermissionError', async () => {
    for (const call of [
      `os.system("touch ${marker}")`,
      `os.popen("touch ${marker}")`,
      `os.execv("/bin/sh", ["sh"])`,
      'os.fork()',
      'os.kill(1, 9)',
      'os._exit(1)',
    ]) {
      refused(await run(`import os\nreturn ${call}`), /^PermissionError: os\.\w+ is not available in expressions$/);
    }
    await stillFine();
  });

  it('os.system reached through the subclasses of object: PermissionError too', async () => {
    const source = [
      'c = ().__class__.__base__.__subclasses__()',
      'w = [x for x in c if x.__name__ == "_wrap_close"][0]',
      `return w.__init__.__globals__["system"]("touch ${marker}")`,
    ].join('\n');
    refused(await run(source), /^PermissionError/);
    await stillFine();
  });

  it("files: the host's are not there, and what is written stays in the interpreter's memory", async () => {
    refused(await run("return open('/etc/passwd').read()"), /^FileNotFoundError/);
    refused(await run(`return open(${JSON.stringify(path.join(process.cwd(), 'package.json'))}).read()`), /^FileNotFoundError/);
    const listing = await run("import os\nreturn sorted(os.listdir('/'))");
    assert.deepEqual(listing.ok && listing.value, ['dev', 'home', 'lib', 'proc', 'tmp']);
    const written = await run(`open(${JSON.stringify(marker)}, 'w').write('x')\nreturn open(${JSON.stringify(marker)}).read()`);
    assert.equal(written.ok && written.value, 'x');
    await stillFine();
  });

  it("the environment: none of Keystage's variables", async () => {
    const r = await run('import os\nreturn dict(os.environ)');
    assert.ok(r.ok);
    assert.doesNotMatch(JSON.stringify(r.value), /secret-|KEYSTAGE|PATH=\/usr/);
  });
});

describe('when the Python refusals are bypassed, JavaScript has nothing to offer', () => {
  it("pyodide's finder for js and pyodide_js holds nothing any more; its API, where still held, refuses", async () => {
    const source = [
      'import gc',
      'out = {}',
      'finders = [o for o in gc.get_objects() if type(o).__name__ == "JsFinder"]',
      'out["finder proxies"] = [k for k in ("js", "pyodide_js") for f in finders if f.jsproxies.get(k) is not None]',
      '# the pyodide API object, wherever Python still holds it',
      'apis = [o for o in gc.get_objects() if type(o).__name__.startswith("Js") and hasattr(o, "mountNodeFS")]',
      'import __main__',
      'apis += [getattr(__main__, n) for n in dir(__main__) if hasattr(getattr(__main__, n), "mountNodeFS")]',
      'out["apis"] = len(apis)',
      'for api in apis[:1]:',
      '    tries = {',
      `        "mountNodeFS": lambda: api.mountNodeFS("/mnt", "/etc"),`,
      `        "runPython": lambda: api.runPython("1"),`,
      `        "loadPackage": lambda: api.loadPackage("micropip"),`,
      `        "FS.mount": lambda: api.FS.mount(api.FS.filesystems.MEMFS, {}, "/x"),`,
      `        "loadBinaryFile": lambda: api._api.loadBinaryFile("/etc/passwd"),`,
      `        "loadDynlib": lambda: api._api.loadDynlib("/lib/x.so", True),`,
      `        "initializeNodeSockFS": lambda: api._api.initializeNodeSockFS(),`,
      `        "loadDynamicLibrary": lambda: api._module.loadDynamicLibrary("/lib/x.so"),`,
      `        "constructor": lambda: api.runPython.constructor("return process")(),`,
      '    }',
      '    for name, attempt in tries.items():',
      '        try:',
      '            out[name] = "WORKED: " + str(attempt())[:80]',
      '        except BaseException as e:',
      '            out[name] = type(e).__name__',
      'return out',
    ].join('\n');
    const r = await run(source);
    assert.ok(r.ok, JSON.stringify(r));
    const out = r.value as Record<string, unknown>;
    for (const [k, v] of Object.entries(out)) assert.doesNotMatch(String(v), /^WORKED/, `${k}: ${v}`);
    assert.deepEqual(out['finder proxies'], []);
    assert.equal(existsSync('/mnt/hostname'), false);
    await stillFine();
  });

  it('the bridge function reached through the runtime: its constructor makes no code, its prototype chain leads nowhere', async () => {
    const source = [
      'import __main__',
      'bridge = __main__._host_call',
      'out = {}',
      'tries = {',
      '  "Function": lambda: bridge.constructor("return globalThis.process")(),',
      '  "Function of Function": lambda: bridge.constructor.constructor("return 1")(),',
      '  "call.constructor": lambda: bridge.call.constructor("return 1")(),',
      '  "host call": lambda: bridge("ak_user_by", "[{}]"),',
      '}',
      'for name, attempt in tries.items():',
      '    try:',
      '        out[name] = "WORKED: " + str(attempt())[:80]',
      '    except BaseException as e:',
      '        out[name] = type(e).__name__ + ": " + str(e)[:120]',
      'return out',
    ].join('\n');
    const r = await run(source);
    assert.ok(r.ok, JSON.stringify(r));
    const out = r.value as Record<string, string>;
    assert.match(out.Function!, /code generation from strings is disabled/);
    assert.match(out['Function of Function']!, /code generation from strings is disabled/);
    // the bridge only does what a host callback does: this evaluation was given none
    assert.match(out['host call']!, /not available in this context/);
    await stillFine();
  });

  it('the real os.system (posix re-imported past the refusal): nothing runs, the interpreter is replaced', async () => {
    const starts = rt.status().starts;
    const r = await run(`import sys\ndel sys.modules["posix"]\nimport posix\nreturn posix.system("touch ${marker}")`);
    refused(r);
    await stillFine();
    assert.ok(rt.status().starts >= starts);
  });

  it('sockets past the import guard: no connection is made', async () => {
    const source = [
      'import sys',
      'sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "__name__", "") != "_Guard"]',
      'for m in [m for m in sys.modules if m in ("socket", "_socket")]: del sys.modules[m]',
      'import socket',
      `s = socket.create_connection(("127.0.0.1", ${port}), timeout=2)`,
      's.sendall(b"hello")',
      'return "connected"',
    ].join('\n');
    const r = await run(source);
    assert.notEqual(r.ok && r.value, 'connected');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await stillFine();
  });

  it('ctypes and subprocess past the import guard: nothing runs', async () => {
    const unguard = 'import sys\nsys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "__name__", "") != "_Guard"]\n';
    refused(await run(`${unguard}import ctypes\nreturn ctypes.CDLL(None).system(b"touch ${marker}")`));
    refused(await run(`${unguard}import subprocess\nreturn str(subprocess.run(["touch", "${marker}"]))`));
    await stillFine();
  });

  it('http through urllib past the import guard: no request is made', async () => {
    const source = [
      'import sys',
      'sys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "__name__", "") != "_Guard"]',
      'import urllib.request',
      `return urllib.request.urlopen("http://127.0.0.1:${port}/", timeout=2).read()`,
    ].join('\n');
    refused(await run(source));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await stillFine();
  });

  it('the guard is back for the next expression', async () => {
    const unguard = 'import sys\nsys.meta_path[:] = [f for f in sys.meta_path if getattr(f, "__name__", "") != "_Guard"]\nreturn True';
    assert.equal((await run(unguard)).ok, true);
    refused(await run('import js\nreturn True'), /^ImportError: import of 'js' is not allowed in expressions$/);
  });

  it('the host is untouched by all of the above', () => {
    assert.equal(existsSync(marker), false);
    assert.equal(connections, 0);
    assert.equal(readFileSync('/etc/hostname', 'utf8').length > 0, true);
  });
});
