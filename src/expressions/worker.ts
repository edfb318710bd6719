/**
 * The expression worker: CPython (pyodide) in a thread of its own, locked down once it has loaded.
 *
 * Order matters:
 * 1. before pyodide loads, WebAssembly.Memory.prototype.grow is wrapped so the interpreter's memory cannot grow past
 *    the limit (Python then raises MemoryError; pyodide's memory is made inside its module and grows only through
 *    emscripten's JavaScript `growMemory`);
 * 2. pyodide loads from node_modules (interpreter, standard library; no network), with an empty object as its `js`
 *    module, an empty environment and its output discarded; no host directory is mounted (its file system is an
 *    in-memory one). The first worker compiles pyodide's WebAssembly, runs the runtime's Python (runtime-py.ts) and a
 *    warm-up, and sends Keystage a memory snapshot of that interpreter (before any expression ran in it) with the
 *    compiled module; later workers start from those (about a second instead of several);
 * 3. the runtime is installed with the bridge (and a fresh random state), and warmed up again;
 * 4. the lock-down: every Node.js module that reaches the file system, processes, the network, other threads, the
 *    inspector or code loading is emptied (each function replaced by one that throws — pyodide's own closures hold
 *    these very objects: emscripten's `system()` calls child_process.spawnSync, its sockets use `ws` over net/http,
 *    `mountNodeFS` uses fs); the globals that reach them are deleted (`process`, the `require` pyodide defines,
 *    `fetch`, `WebSocket`, `SharedArrayBuffer`…); code generation from strings is refused (`eval`, `Function` and the
 *    async/generator function constructors), which also leaves no way to write `import()`; pyodide's own mounting and
 *    package loading are refused;
 * 5. a self-check looks for what should be gone; the worker reports it, and Keystage refuses a worker whose check
 *    failed (fail closed).
 * Then it serves one request at a time: evaluate (a JSON job) or check (syntax).
 *
 * Python reaches Keystage only through the bridge: a JavaScript function that posts the call and blocks on
 * Atomics.wait until Keystage has written the answer into the shared buffer.
 */
import { createRequire, builtinModules, syncBuiltinESMExports } from 'node:module';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { loadPyodide } from 'pyodide';
import { RUNTIME_PY } from './runtime-py.js';
import { CONTROL_HEADER_BYTES, type FromWorker, type ToWorker, type WorkerSetup } from './protocol.js';

const port = parentPort!;
const setup = workerData as WorkerSetup;
const control = new Int32Array(setup.control, 0, 2);
const answerBytes = new Uint8Array(setup.control, CONTROL_HEADER_BYTES);
const decoder = new TextDecoder();
const wait = Atomics.wait;
const post = (message: FromWorker) => port.postMessage(message);

// 1. the memory cap, before any WebAssembly memory exists
type Memory = { buffer: ArrayBuffer; grow(delta: number): number };
type Wasm = {
  Memory: { prototype: Memory };
  instantiate(source: unknown, imports: unknown): Promise<{ instance: unknown; module: object } | object>;
};
const Wasm = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;
const { Memory } = Wasm;
const grow = Memory.prototype.grow;
const limit = setup.memoryLimitBytes;
Object.defineProperty(Memory.prototype, 'grow', {
  value: function cappedGrow(this: Memory, delta: number) {
    if (this.buffer.byteLength + Number(delta) * 65536 > limit) throw new RangeError('the expression memory limit is reached');
    return grow.call(this, delta);
  },
  writable: false,
  configurable: false,
});

// pyodide's one instantiation: from the module an earlier worker compiled, when Keystage has it
const instantiate = Wasm.instantiate;
let compiled: object | undefined;
Wasm.instantiate = async function once(source: unknown, imports: unknown) {
  Wasm.instantiate = instantiate;
  if (setup.wasmModule) return { instance: await instantiate.call(Wasm, setup.wasmModule, imports), module: setup.wasmModule };
  const result = (await instantiate.call(Wasm, source, imports)) as { instance: unknown; module: object };
  compiled = result.module;
  return result;
};

/** the bridge Python calls: posts the call, blocks until Keystage answers (JSON text) */
function bridge(name: unknown, args: unknown): string {
  if (typeof name !== 'string' || typeof args !== 'string')
    return JSON.stringify({ ok: false, error: 'a host call takes a name and JSON' });
  if (args.length > setup.maxCallChars) return JSON.stringify({ ok: false, error: `the arguments of ${name}() are too large` });
  Atomics.store(control, 0, 0);
  post({ type: 'call', name, args });
  wait(control, 0, 0);
  return decoder.decode(answerBytes.slice(0, control[1]));
}

const refuse = (what: string) =>
  function refused() {
    throw new Error(`${what} is not available to expressions`);
  };

/** replaces every function an object holds (and those of the plain objects it holds) by one that throws */
function empty(target: object, what: string, seen = new Set<object>()) {
  if (seen.has(target)) return;
  seen.add(target);
  for (const key of Reflect.ownKeys(target)) {
    const d = Object.getOwnPropertyDescriptor(target, key);
    if (!d) continue;
    const value = 'value' in d ? d.value : undefined;
    const stub = refuse(`${what}.${String(key)}`);
    try {
      if (d.get || d.set) {
        if (d.configurable) Object.defineProperty(target, key, { value: undefined, writable: false, configurable: false });
      } else if (typeof value === 'function') {
        if (d.writable) (target as Record<PropertyKey, unknown>)[key] = stub;
        else if (d.configurable) Object.defineProperty(target, key, { value: stub, writable: false, configurable: false });
      } else if (value && typeof value === 'object' && key !== 'prototype') {
        const proto = Object.getPrototypeOf(value);
        if (proto === Object.prototype || proto === null) empty(value, `${what}.${String(key)}`, seen);
      }
    } catch {
      // a property that cannot be replaced; the self-check below reports what matters
    }
  }
}

/** Node.js modules the worker keeps: no file system, process, network, thread, inspector or code-loading reach */
const HARMLESS = new Set([
  'assert',
  'assert/strict',
  'async_hooks',
  'buffer',
  'console',
  'constants',
  'crypto',
  'diagnostics_channel',
  'domain',
  'events',
  'path',
  'path/posix',
  'path/win32',
  'perf_hooks',
  'punycode',
  'querystring',
  'stream',
  'stream/consumers',
  'stream/promises',
  'stream/web',
  'string_decoder',
  'sys',
  'timers',
  'timers/promises',
  'url',
  'util',
  'util/types',
  'zlib',
]);

/** 4. the lock-down (see the header) */
function lockDown(py: Record<string, any>, require: NodeJS.Require) {
  // pyodide's own ways to mount host directories, load packages or run JavaScript
  // (its methods are non-enumerable class statics; its objects FS, _module and _api are pyodide's working parts)
  for (const key of Reflect.ownKeys(py)) {
    const d = Object.getOwnPropertyDescriptor(py, key)!;
    if (d.get || d.set || typeof d.value === 'function') {
      const stub = { value: refuse(`pyodide.${String(key)}`), writable: false, configurable: false };
      if (d.configurable) Object.defineProperty(py, key, stub);
      else if (d.writable) py[key as string] = stub.value;
    }
  }
  // … and its internal ones that load files, packages, libraries or sockets (the rest runs the interpreter)
  for (const key of ['install', 'loadBinaryFile', 'loadDynlib', 'initializeNodeSockFS', 'makeSnapshot', 'restoreSnapshot']) {
    if (py._api && typeof py._api[key] === 'function') py._api[key] = refuse(`pyodide._api.${key}`);
  }
  for (const key of ['loadDynamicLibrary', 'loadWebAssemblyModule', 'loadSideModule']) {
    if (py._module && typeof py._module[key] === 'function') py._module[key] = refuse(`pyodide._module.${key}`);
  }
  const FS = py.FS ?? py._module?.FS;
  if (FS) {
    for (const fs of ['NODEFS', 'NODERAWFS', 'PROXYFS', 'WORKERFS', 'IDBFS']) delete FS.filesystems?.[fs];
    FS.mount = refuse('FS.mount');
  }
  for (const key of ['NODEFS', 'NODERAWFS', 'PROXYFS', 'WORKERFS', 'IDBFS', 'SOCKFS']) {
    if (py._module && key in py._module) py._module[key] = undefined;
  }

  // Node.js modules: the objects pyodide's closures and any later require() or import() would get
  const crypto = require('node:crypto') as Record<string, unknown>;
  const sync = syncBuiltinESMExports;
  const modules: Array<[string, object]> = [];
  for (const name of new Set([...builtinModules, 'node:sqlite', 'node:test', 'node:sea', 'node:test/reporters'])) {
    // (the process object is the `process` module: only its dangerous methods are replaced, below)
    if (HARMLESS.has(name.replace(/^node:/, '')) || name === 'process') continue;
    try {
      const mod: unknown = require(name.startsWith('node:') ? name : `node:${name}`);
      if (mod && (typeof mod === 'object' || typeof mod === 'function')) modules.push([name, mod as object]);
    } catch {
      // not in this version of Node.js
    }
  }
  try {
    // the WebSocket client pyodide's sockets would use (it runs over the emptied net/http: belt and braces)
    modules.push(['ws', createRequire(import.meta.resolve('pyodide'))('ws') as object]);
  } catch {
    // not installed: nothing to empty
  }
  // (the module loader last: after it, nothing can be required or imported any more)
  modules.sort(([a], [b]) => Number(a === 'module') - Number(b === 'module'));
  for (const [name, mod] of modules) empty(mod, name);
  crypto.setEngine = refuse('crypto.setEngine');
  try {
    const p = process as unknown as Record<string, unknown>;
    for (const key of ['binding', '_linkedBinding', 'dlopen', 'kill', '_kill', 'getBuiltinModule', 'loadEnvFile', 'execve', 'chdir']) {
      if (key in p) p[key] = refuse(`process.${key}`);
    }
    Object.defineProperty(process, 'report', { value: undefined, configurable: false, writable: false });
  } catch {
    // reported by the self-check
  }
  sync();

  // globals
  for (const name of [
    'process',
    'require',
    'module',
    'exports',
    '__filename',
    '__dirname',
    'fetch',
    'Request',
    'Response',
    'Headers',
    'FormData',
    'WebSocket',
    'EventSource',
    'XMLHttpRequest',
    'Worker',
    'SharedWorker',
    'SharedArrayBuffer',
    'BroadcastChannel',
    'MessageChannel',
    'MessagePort',
    'importScripts',
    'postMessage',
    'Buffer',
  ]) {
    try {
      delete (globalThis as Record<string, unknown>)[name];
    } catch {
      // reported by the self-check
    }
    if (name in globalThis) {
      try {
        Object.defineProperty(globalThis, name, { value: undefined, writable: false, configurable: false });
      } catch {
        // reported by the self-check
      }
    }
  }

  // code generation from strings (and with it, import())
  const noCode = function noCodeFromStrings() {
    throw new EvalError('code generation from strings is disabled for expressions');
  };
  const constructors = [
    Function,
    Object.getPrototypeOf(async () => {}).constructor,
    Object.getPrototypeOf(function* () {}).constructor,
    Object.getPrototypeOf(async function* () {}).constructor,
  ] as Array<{ prototype: object }>;
  for (const c of constructors) Object.defineProperty(c.prototype, 'constructor', { value: noCode, writable: false, configurable: false });
  // pyodide calls Function.prototype.apply through the global Function: it stays the prototype's owner
  noCode.prototype = Function.prototype;
  Object.defineProperty(globalThis, 'Function', { value: noCode, writable: false, configurable: false });
  Object.defineProperty(globalThis, 'eval', { value: noCode, writable: false, configurable: false });
}

/** 5. what must be gone: a list of what is not */
function selfCheck(require: NodeJS.Require): string[] {
  const problems: string[] = [];
  const g = globalThis as Record<string, unknown>;
  for (const name of ['process', 'require', 'fetch', 'WebSocket', 'SharedArrayBuffer', 'Worker', 'XMLHttpRequest', 'module']) {
    if (g[name] !== undefined) problems.push(`global ${name} is still there`);
  }
  try {
    (globalThis as Record<string, any>)['eval']('1');
    problems.push('eval works');
  } catch {}
  try {
    (() => {}).constructor('return 1')();
    problems.push('the Function constructor works');
  } catch {}
  const checks: Array<[string, string]> = [
    ['node:child_process', 'spawnSync'],
    ['node:child_process', 'execSync'],
    ['node:fs', 'readFileSync'],
    ['node:fs', 'writeFileSync'],
    ['node:fs/promises', 'readFile'],
    ['node:net', 'connect'],
    ['node:http', 'request'],
    ['node:worker_threads', 'Worker'],
    ['node:vm', 'runInThisContext'],
    ['node:inspector', 'open'],
    ['node:wasi', 'WASI'],
    ['node:module', 'createRequire'],
  ];
  for (const [mod, fn] of checks) {
    try {
      const f = (require(mod) as Record<string, unknown>)[fn];
      if (typeof f === 'function' && f.name !== 'refused') problems.push(`${mod} ${fn} still works`);
    } catch {
      // a module that cannot be loaded any more is fine
    }
  }
  return problems;
}

/** what a first evaluation, a first syntax error and a first exception import, done before the lock-down */
const WARM_UP = `
check_syntax("return (")
evaluate(${JSON.stringify(JSON.stringify({ source: 'ak_logger.info("x")\nreturn 1/0', globals: { request: { http_request: { client_ip: '::1' } } } }))})
evaluate(${JSON.stringify(JSON.stringify({ source: 'import re, datetime, json, base64, hashlib\nreturn [1.5, None]', globals: {} }))})
`;

let evaluate: ((job: string) => string) | undefined;
let checkSyntax: ((source: string) => string) | undefined;

function answerOf(error: unknown): { answer: string; fatal: boolean } {
  // a Python exception that escaped the runtime (MemoryError while answering) has `type`; anything else means
  // pyodide itself failed and the interpreter is not to be trusted again
  const type = (error as { type?: unknown })?.type;
  const memory = type === 'MemoryError' || /memory/i.test(String((error as Error)?.message ?? error));
  return {
    answer: JSON.stringify({
      ok: false,
      kind: memory ? 'memory' : 'exception',
      error: memory
        ? 'MemoryError'
        : `the interpreter failed: ${String((error as Error)?.message ?? error)
            .split('\n')
            .pop()}`,
      logs: [],
    }),
    fatal: typeof type !== 'string',
  };
}

function serve(message: ToWorker) {
  let answer: string;
  let fatal = false;
  try {
    answer = message.type === 'evaluate' ? evaluate!(message.job) : checkSyntax!(message.source);
    if (typeof answer !== 'string') throw new TypeError('the runtime answered no text');
    if (answer.length > setup.maxAnswerChars)
      answer = JSON.stringify({ ok: false, kind: 'exception', error: 'the result is too large', logs: [] });
  } catch (e) {
    ({ answer, fatal } = answerOf(e));
  }
  post({ type: 'answer', id: message.id, answer, fatal });
}

try {
  const t0 = performance.now();
  const py = (await loadPyodide({
    // pyodide's own folder in node_modules (its guess from the call stack fails in a worker)
    indexURL: fileURLToPath(new URL('.', import.meta.resolve('pyodide'))),
    jsglobals: Object.create(null),
    env: { HOME: '/home/pyodide' },
    stdout: () => {},
    stderr: () => {},
    stdin: () => null,
    // (pyodide's memory snapshots: options it documents as internal, pinned with pyodide's exact version)
    ...(setup.snapshot ? { _loadSnapshot: setup.snapshot } : { _makeSnapshot: true }),
  } as Parameters<typeof loadPyodide>[0])) as unknown as Record<string, any>;
  const t1 = performance.now();
  if (!setup.snapshot) {
    // the runtime's Python, and the imports a first evaluation and a first error make (pure Python, no JavaScript
    // reference yet); then the snapshot, taken before anything of an expression's ran in the interpreter (a worker
    // started from it has all this already)
    py.runPython(RUNTIME_PY, { filename: 'keystage_runtime' });
    py.runPython(WARM_UP);
    const bytes = py.makeMemorySnapshot() as Uint8Array;
    port.postMessage({ type: 'snapshot', bytes, wasmModule: compiled } satisfies FromWorker, [bytes.buffer as ArrayBuffer]);
  }
  // (the JavaScript side of output, should Python's sys.stdout be put back: bytes counted, not decoded)
  const drop = { write: (bytes: Uint8Array) => bytes.length };
  py.setStdout(drop);
  py.setStderr(drop);
  const g = py.globals;
  py.runPython('_install')(bridge);
  const ev = g.get('evaluate');
  const cs = g.get('check_syntax');
  evaluate = (job) => ev(job);
  checkSyntax = (source) => cs(source);
  py.runPython(WARM_UP);
  const wasmBytes = py._module?.HEAP8?.length ?? 0;
  const heapBytes = getHeapStatistics().used_heap_size;
  const t2 = performance.now();
  const require = createRequire(import.meta.url);
  lockDown(py, require);
  const problems = selfCheck(require);
  port.on('message', serve);
  const timings = { loadMs: t1 - t0, installMs: t2 - t1, lockDownMs: performance.now() - t2 };
  post({ type: 'ready', selfCheck: problems, heapBytes, wasmBytes, timings });
} catch (e) {
  post({ type: 'failed', error: String((e as Error)?.stack ?? e) });
}
