/**
 * Expressions: authentik's Python, sandboxed. A shared runtime (expression policies, later scope mappings) that runs
 * authentik's expression text unchanged in CPython compiled to WebAssembly (npm `pyodide`, interpreter and standard
 * library loaded from node_modules, no network) inside a worker thread of its own:
 *
 * - lazy: nothing starts at import; the first `evaluate` or `checkSyntax` starts the worker, concurrent first calls
 *   share that start, and a start that fails answers `unavailable` (tried again after `retryAfterMs`);
 * - one worker, one call at a time (a queue); a call that runs past its `timeoutMs` is cut off by terminating the
 *   worker (`timeout`), as is one that ran out of memory or broke the interpreter (`memory`, `exception`); the next
 *   call starts a new worker;
 * - Python calls Keystage (`host` callbacks, async) synchronously: the worker posts the call and blocks on
 *   Atomics.wait over a SharedArrayBuffer until this thread has written the JSON answer into it (bounded: answers
 *   of at most `MAX_CALL_ANSWER_BYTES`, arguments of at most `MAX_CALL_CHARS`, `MAX_HOST_CALLS` calls per
 *   evaluation); a callback's error reaches Python as a ValueError;
 * - every failure is a value (`ok: false` with its kind), never an exception to the caller.
 *
 * What the worker refuses and how (worker.ts), what Python sees (runtime-py.ts): see there and README's "Expressions".
 *
 * Measured on the 2-core development machine (Node 20), from the repository, with the command below; first with the
 * machine quiet (load average 1.8), then in brackets with other test suites running (load average 3.7):
 *   node --import tsx --input-type=module -e "
 *     const x = await import('./src/expressions/index.ts'); const mib = (b) => Math.round(b / 2 ** 20);
 *     const rss0 = process.memoryUsage.rss(); let t = performance.now(); await x.evaluate({ source: 'return 1' });
 *     const firstMs = Math.round(performance.now() - t); const rss1 = process.memoryUsage.rss();
 *     t = performance.now(); for (let i = 0; i < 1000; i++) await x.evaluate({ source: 'return 1' });
 *     const perCallMs = ((performance.now() - t) / 1000).toFixed(3);
 *     await x.evaluate({ source: 'while True: pass', timeoutMs: 100 });
 *     t = performance.now(); await x.evaluate({ source: 'return 1' }); const restartMs = Math.round(performance.now() - t);
 *     console.log({ firstMs, perCallMs, restartMs, rssBeforeMiB: mib(rss0), rssAfterMiB: mib(rss1) });
 *     await x.stopExpressions();"
 * - time to the first result: 2.9–3.1 s [3.9–5.2 s] (worker start, pyodide load, runtime, snapshot, lock-down); the
 *   same entry bundled as dist/server/main.mjs is: [3.6–4.0 s];
 * - per trivial evaluation (`return 1`, a round trip to the worker): 0.16–0.19 ms [0.23–0.45 ms; bundled 0.26–0.31 ms,
 *   with a `request` and `ak_client_ip in ip_network(...)` 0.28–0.38 ms];
 * - a restart after a kill, from the snapshot and the compiled module: 0.82 s [0.85–1.35 s] (from scratch: about as
 *   the first);
 * - process RSS: 73–79 → 235–252 MiB under tsx, [43 → 199–223 MiB bundled]: about +160 MiB, the interpreter's 30 MiB
 *   of WebAssembly memory, its compiled code, the worker's V8 heap and isolate, and the 30 MiB snapshot kept here.
 * Under heavy load (load average 10–15, other test suites running) everything took 3–5 times as long.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CONTROL_HEADER_BYTES, type FromWorker, type ToWorker, type WorkerSetup } from './protocol.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/**
 * What Python may call in Keystage. Each is optional: calling one the host does not give raises NotImplementedError
 * in Python. A callback may be async; what it returns (JSON) is what Python gets, what it throws becomes a ValueError
 * with its message (which may reach the expression's error and so the person: keep it plain).
 */
export interface ExpressionHost {
  /** `ak_user_by(**filters)`: a user's data (as `request.user`), or null */
  ak_user_by?: (filters: JsonObject) => Promise<JsonObject | null> | JsonObject | null;
  /**
   * `User.objects…` (authentik.core.models.User): `{ steps: [{ negate, lookups }], mode: 'exists' | 'count' |
   * 'list', limit? }`, each step a filter() (negate false) or exclude(); answers a boolean, a number or a list of
   * users' data. Throw (a plain message) for a lookup it does not answer.
   */
  user_query?: (query: JsonObject) => Promise<Json> | Json;
  /** `ak_is_group_member(user, **filters)`: whether one of the user's groups (direct or inherited) matches */
  ak_is_group_member?: (user: JsonObject, filters: JsonObject) => Promise<boolean> | boolean;
  /** `ak_user_has_authenticator(user, device_type=None)` */
  ak_user_has_authenticator?: (user: JsonObject, deviceType: string | null) => Promise<boolean> | boolean;
  /**
   * `ak_call_policy(name, **kwargs)`: the named policy with the current request, its context updated with kwargs.
   * Answer its result — or, for an expression policy, `{ expression, name }`: its text then runs in this same
   * evaluation, as authentik runs it (the host cannot evaluate it itself meanwhile: the one worker is busy with the
   * caller, and a second evaluation would wait behind it until the timeout). Throw for an unknown name.
   */
  ak_call_policy?: (name: string, context: JsonObject) => Promise<CalledPolicy> | CalledPolicy;
  /** `ak_create_event(action, **kwargs)` */
  ak_create_event?: (action: string, context: JsonObject) => Promise<void> | void;
  /** `user.ak_groups` (direct) and `user.all_groups()` / `group_attributes()` (indirect too), when the user's data has no `groups` / `all_groups` list */
  user_groups?: (user: JsonObject, indirect: boolean) => Promise<JsonObject[]> | JsonObject[];
  /**
   * `user.group_attributes()`: the attributes of all the user's groups (inherited ones too) merged as authentik
   * does, without the user's own (Python puts those on top); asked once per user object. Without it, Python merges
   * what `user_groups` answers.
   */
  group_attributes?: (user: JsonObject) => Promise<JsonObject> | JsonObject;
  /** `user.app_entitlements(app)`: the entitlements of the application (its pk) the user has, as `{ pk, name, attributes }` by name */
  app_entitlements?: (user: JsonObject, app: string) => Promise<JsonObject[]> | JsonObject[];
  /**
   * `authentik.lib.config.CONFIG`: the settings an expression may read, by authentik's names (nested objects for
   * dotted paths); asked once per evaluation, on first use. Nothing secret belongs here.
   */
  config?: () => Promise<JsonObject> | JsonObject;
}

/** what the host answers ak_call_policy: a policy's result, or an expression policy's text to run in place */
export type CalledPolicy = { passing: boolean; messages: string[]; raw_result?: Json } | { expression: string; name?: string };

export interface EvaluateOptions {
  /** the expression as the admin wrote it (the body of authentik's `def handler(...)`) */
  source: string;
  /**
   * what the expression sees, as JSON. `request` becomes authentik's PolicyRequest: `{ user, http_request: { path,
   * method, headers, client_ip, query?, scheme? }, obj, context: { pending_user, prompt_data, application,
   * flow_plan, is_sso, … }, debug }`, users become User objects (`groups` / `all_groups` lists in a user's data are
   * used instead of asking `user_groups`), and `ak_is_sso_flow`, `ak_client_ip`, `http_request` and `context` are
   * derived from it. `user` (a property mapping's, e.g. a prompt's
   * expressions) becomes a User too. Other names are given as plain Python data. Names must be Python identifiers.
   */
  globals?: JsonObject;
  host?: ExpressionHost;
  /** how long the evaluation may run in the worker (not counting the start of the worker); default 30 000 */
  timeoutMs?: number;
  /** the name tracebacks give the expression (authentik: the policy's name); default PolicyEvaluator */
  filename?: string;
}

export interface LogLine {
  event: string;
  level: string;
  attributes: JsonObject;
}

export interface ContextChanges {
  set: JsonObject;
  unset: string[];
  /** URLs `context["flow_plan"].redirect(url)` asked for, in order */
  redirects?: string[];
}

export type EvaluateResult =
  | {
      ok: true;
      /** the returned value as JSON (models as their data, other objects as their repr()) */
      value: Json;
      /** Python's bool() of the returned value: what an expression policy passes on */
      truthy: boolean;
      /** ak_message() calls, in order */
      messages: string[];
      /** ak_logger calls */
      logs: LogLine[];
      /**
       * what the expression changed in the flow context it was given (`request.context["flow_plan"].context` keys set
       * or removed, `request.context` values changed in place), in authentik's names; absent when nothing
       */
      contextChanges?: ContextChanges;
    }
  | {
      ok: false;
      kind: 'exception' | 'timeout' | 'memory' | 'unavailable';
      /** one line: the last line of the Python traceback (`NameError: name 'x' is not defined`), or what happened */
      error: string;
      /** for `exception`: the traceback, line numbers those of the admin's text */
      traceback?: string;
      /** for `exception`: the exception's type and str() (authentik's PolicyResult message is the str()) */
      exception?: { type: string; message: string };
      logs: LogLine[];
    };

export type SyntaxResult = { ok: true } | { ok: false; line: number; column?: number; message: string };
/** checkSyntax's answer: the syntax's verdict, or (`unavailable`) none because the runtime could not start */
export type CheckResult = SyntaxResult | { ok: false; line: 0; message: string; unavailable: true };

export interface RuntimeOptions {
  /** the interpreter's WebAssembly memory cap; default 256 */
  memoryLimitMb?: number;
  /** the worker's V8 old-generation heap cap; default 128 */
  heapLimitMb?: number;
  /** how long the worker may take to load; default 60 000 */
  loadTimeoutMs?: number;
  /** after a failed start, calls answer `unavailable` for this long before a new start is tried; default 10 000 */
  retryAfterMs?: number;
  /** keep the interpreter's memory after its first load so restarts skip CPython's start-up (~30 MiB); default true */
  snapshot?: boolean;
}

export const MAX_HOST_CALLS = 1000;
export const MAX_CALL_CHARS = 256 * 1024;
export const MAX_CALL_ANSWER_BYTES = 1024 * 1024;
export const MAX_ANSWER_CHARS = 1024 * 1024;
export const MAX_MESSAGES = 100;
export const MAX_MESSAGE_CHARS = 2000;
export const MAX_LOGS = 101;
const CHECK_TIMEOUT_MS = 5000;
const RSS_WATCH_MS = 50;
const RSS_MARGIN_MB = 128;
const HOST_NAMES = new Set([
  'ak_user_by',
  'user_query',
  'ak_is_group_member',
  'ak_user_has_authenticator',
  'ak_call_policy',
  'ak_create_event',
  'user_groups',
  'group_attributes',
  'app_entitlements',
  'config',
]);

/**
 * the worker: built beside dist/server/main.mjs (scripts/build.ts). From src/ (tsx: tests, development) worker.ts is
 * bundled the same way on first use, into node_modules/.cache/keystage/ (named by its content, so processes share
 * it), which spares every worker start tsx's loader.
 */
function workerEntry(): URL {
  if (!import.meta.url.endsWith('.ts')) return new URL('./expressions-worker.mjs', import.meta.url);
  return (devWorker ??= bundleDevWorker());
}
let devWorker: URL | undefined;

function bundleDevWorker(): URL {
  const require = createRequire(import.meta.url);
  const { buildSync } = require('esbuild') as typeof import('esbuild');
  const out = buildSync({
    entryPoints: [fileURLToPath(new URL('./worker.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    write: false,
    logLevel: 'silent',
  });
  const code = out.outputFiles[0]!.text;
  const dir = path.join(path.dirname(path.dirname(require.resolve('pyodide/package.json'))), '.cache', 'keystage');
  const file = path.join(dir, `expressions-worker-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, code);
    renameSync(partial, file);
  }
  return pathToFileURL(file);
}

const text = (value: unknown, max: number) => {
  const s = typeof value === 'string' ? value : String(value);
  return s.length <= max ? s : s.slice(0, max - 1) + '…';
};

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

function logsOf(value: unknown): LogLine[] {
  if (!Array.isArray(value)) return [];
  return value.slice(0, MAX_LOGS).map((l) => ({
    event: text(isObject(l) ? l.event : l, 4000),
    level: text(isObject(l) && typeof l.level === 'string' ? l.level : 'info', 20),
    attributes: isObject(l) && isObject(l.attributes) ? l.attributes : {},
  }));
}

/** the worker's context changes, checked: an object of values and a list of key names */
function contextChangesOf(v: unknown): ContextChanges | undefined {
  if (!isObject(v)) return undefined;
  const set = isObject(v.set) ? (v.set as JsonObject) : {};
  const unset = Array.isArray(v.unset) ? v.unset.filter((k): k is string => typeof k === 'string') : [];
  const redirects = Array.isArray(v.redirects) ? v.redirects.filter((k): k is string => typeof k === 'string').slice(0, 10) : [];
  return Object.keys(set).length || unset.length || redirects.length
    ? { set, unset, ...(redirects.length ? { redirects } : {}) }
    : undefined;
}

/** the worker's answer, checked and bounded here again (the worker's Python can be changed by an expression) */
function resultOf(answer: string): EvaluateResult {
  let a: unknown;
  try {
    a = JSON.parse(answer);
  } catch {
    return { ok: false, kind: 'exception', error: 'the interpreter gave no readable answer', logs: [] };
  }
  if (!isObject(a)) return { ok: false, kind: 'exception', error: 'the interpreter gave no readable answer', logs: [] };
  const logs = logsOf(a.logs);
  if (a.ok === true) {
    const messages = Array.isArray(a.messages) ? a.messages.slice(0, MAX_MESSAGES).map((m) => text(m, MAX_MESSAGE_CHARS)) : [];
    const changes = contextChangesOf(a.context_changes);
    return { ok: true, value: a.value ?? null, truthy: a.truthy === true, messages, logs, ...(changes ? { contextChanges: changes } : {}) };
  }
  const kind = a.kind === 'memory' || a.kind === 'timeout' || a.kind === 'unavailable' ? a.kind : 'exception';
  const result: EvaluateResult = { ok: false, kind, error: text(a.error ?? 'the expression failed', MAX_MESSAGE_CHARS), logs };
  if (typeof a.traceback === 'string') result.traceback = text(a.traceback, 20000);
  if (isObject(a.exception))
    result.exception = { type: text(a.exception.type, 200), message: text(a.exception.message ?? '', MAX_MESSAGE_CHARS) };
  return result;
}

/** what makes a restart quick: the interpreter's memory after loading, and its compiled WebAssembly module */
interface Start {
  snapshot: Uint8Array;
  wasmModule?: object;
}

interface Job {
  id: number;
  host: ExpressionHost;
  calls: number;
  settle: (answer: string, fatal: boolean) => void;
}

/** one worker and its interpreter */
class Session {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  private readonly control: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly encoder = new TextEncoder();
  job: Job | undefined;
  dead = false;
  /** how much the process may grow while an expression runs: both caps and a margin */
  private readonly rssBudget: number;
  /** what the worker measured of itself once loaded */
  info = { heapBytes: 0, wasmBytes: 0, timings: { loadMs: 0, installMs: 0, lockDownMs: 0 } };

  constructor(options: Required<RuntimeOptions>, start: Start | undefined, onStart: (start: Start) => void) {
    this.rssBudget = (options.memoryLimitMb + options.heapLimitMb + RSS_MARGIN_MB) * 2 ** 20;
    const control = new SharedArrayBuffer(CONTROL_HEADER_BYTES + MAX_CALL_ANSWER_BYTES);
    this.control = new Int32Array(control, 0, 2);
    this.bytes = new Uint8Array(control, CONTROL_HEADER_BYTES);
    const setup: WorkerSetup = {
      control,
      memoryLimitBytes: options.memoryLimitMb * 2 ** 20,
      maxCallChars: MAX_CALL_CHARS,
      maxAnswerChars: MAX_ANSWER_CHARS,
      snapshot: start?.snapshot,
      wasmModule: start?.wasmModule,
    };
    this.worker = new Worker(workerEntry(), {
      workerData: setup,
      // the worker gets no environment (Keystage's holds its secrets), no inherited flags, and its output goes nowhere
      env: {},
      execArgv: [],
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: options.heapLimitMb, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
      name: 'keystage-expressions',
    });
    this.worker.stdout.resume();
    this.worker.stderr.resume();
    this.worker.unref();
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kill();
        reject(new Error(`the Python runtime did not load within ${options.loadTimeoutMs} ms`));
      }, options.loadTimeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        this.kill();
        reject(error);
      };
      this.worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          // fail closed: a worker whose lock-down did not hold serves nothing
          if (m.selfCheck.length) fail(new Error(`the expression sandbox did not lock down: ${m.selfCheck.join('; ')}`));
          else {
            this.info = { heapBytes: m.heapBytes, wasmBytes: m.wasmBytes, timings: m.timings };
            resolve();
          }
        } else if (m.type === 'snapshot') onStart({ snapshot: m.bytes, wasmModule: m.wasmModule });
        else if (m.type === 'failed') fail(new Error(`the Python runtime did not load: ${m.error.split('\n')[0]}`));
        else if (m.type === 'call') void this.call(m.name, m.args);
        else if (m.type === 'answer' && this.job?.id === m.id) this.job.settle(m.answer, m.fatal === true);
      });
      this.worker.on('error', (e: Error & { code?: string }) => {
        const memory = e.code === 'ERR_WORKER_OUT_OF_MEMORY';
        fail(e);
        this.job?.settle(
          JSON.stringify({
            ok: false,
            kind: memory ? 'memory' : 'exception',
            error: memory ? 'MemoryError: the worker ran out of memory' : `the interpreter failed: ${e.message}`,
          }),
          true,
        );
      });
      this.worker.on('exit', (code) => {
        this.dead = true;
        fail(new Error(`the Python runtime stopped (exit code ${code})`));
        this.job?.settle(JSON.stringify({ ok: false, kind: 'exception', error: `the interpreter stopped (exit code ${code})` }), true);
      });
    });
    // nobody may be waiting for a start that fails (the runtime handles it); keep Node from calling it unhandled
    this.ready.catch(() => {});
  }

  /** a host call from Python: run the callback, write its answer, wake the worker */
  private async call(name: string, args: string) {
    const job = this.job;
    let answer: string;
    try {
      if (!job) throw new Error('no evaluation is running');
      if (++job.calls > MAX_HOST_CALLS) throw new Error(`an expression may call Keystage at most ${MAX_HOST_CALLS} times`);
      const fn = HOST_NAMES.has(name) && Object.hasOwn(job.host, name) ? (job.host as Record<string, unknown>)[name] : undefined;
      if (typeof fn !== 'function') throw new Error(`${name}() is not available in this context`);
      const parsed: unknown = JSON.parse(args);
      if (!Array.isArray(parsed)) throw new Error('bad arguments');
      const value = (await fn(...parsed)) as Json | undefined;
      answer = JSON.stringify({ ok: true, value: value ?? null });
    } catch (e) {
      answer = JSON.stringify({ ok: false, error: text((e as Error)?.message ?? e, MAX_MESSAGE_CHARS) });
    }
    if (this.dead || this.job !== job) return; // cut off meanwhile
    let bytes = this.encoder.encode(answer);
    if (bytes.length > this.bytes.length)
      bytes = this.encoder.encode(JSON.stringify({ ok: false, error: `the answer of ${name}() is too large` }));
    this.bytes.set(bytes);
    Atomics.store(this.control, 1, bytes.length);
    Atomics.store(this.control, 0, 1);
    Atomics.notify(this.control, 0);
  }

  /** sends one request; resolves with the worker's answer, or a timeout (after which this session is dead) */
  run(message: ToWorker, host: ExpressionHost, timeoutMs: number): Promise<{ answer: string; timedOut: boolean }> {
    if (this.dead)
      return Promise.resolve({
        answer: JSON.stringify({ ok: false, kind: 'exception', error: 'the interpreter stopped' }),
        timedOut: false,
      });
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        clearInterval(watch);
        this.job = undefined;
      };
      const timer = setTimeout(() => {
        done();
        this.kill();
        resolve({ answer: '', timedOut: true });
      }, timeoutMs);
      // the backstop for memory neither cap sees (buffers JavaScript allocates outside the V8 heap, should an
      // expression reach pyodide's JavaScript side): the process may not grow by more than both caps and a margin
      // while the expression runs
      const base = process.memoryUsage.rss();
      const watch = setInterval(() => {
        if (process.memoryUsage.rss() - base <= this.rssBudget) return;
        done();
        this.kill();
        resolve({
          answer: JSON.stringify({ ok: false, kind: 'memory', error: 'MemoryError: the expression used too much memory' }),
          timedOut: false,
        });
      }, RSS_WATCH_MS);
      this.job = {
        id: message.id,
        host,
        calls: 0,
        settle: (answer, fatal) => {
          done();
          if (fatal) this.kill();
          resolve({ answer, timedOut: false });
        },
      };
      this.worker.postMessage(message);
    });
  }

  kill() {
    if (this.dead) return;
    this.dead = true;
    void this.worker.terminate().catch(() => {});
  }
}

/** the runtime: a lazily started worker, a queue, restarts after kills */
export class ExpressionRuntime {
  private readonly options: Required<RuntimeOptions>;
  private session: Session | undefined;
  private starting: Promise<Session> | undefined;
  private failed: { at: number; error: string } | undefined;
  /** pyodide's memory right after its first load here and its compiled module: restarts skip CPython's start-up and the compilation (~30 MiB, the code being shared with the worker) */
  private quickStart: Start | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  /** how many workers were started (a test reads it to see a restart) */
  starts = 0;

  constructor(options: RuntimeOptions = {}) {
    this.options = { memoryLimitMb: 256, heapLimitMb: 128, loadTimeoutMs: 60_000, retryAfterMs: 10_000, snapshot: true, ...options };
  }

  private async live(): Promise<Session> {
    if (this.session && !this.session.dead) return this.session;
    if (this.failed && Date.now() - this.failed.at < this.options.retryAfterMs) throw new Error(this.failed.error);
    this.starting ??= (async () => {
      try {
        const s = await this.start().catch((e) => {
          // a start from the snapshot that failed: once more from scratch
          if (!this.quickStart) throw e;
          this.quickStart = undefined;
          return this.start();
        });
        this.failed = undefined;
        this.session = s;
        return s;
      } catch (e) {
        this.failed = { at: Date.now(), error: (e as Error).message };
        throw e;
      } finally {
        this.starting = undefined;
      }
    })();
    return this.starting;
  }

  private async start(): Promise<Session> {
    this.starts++;
    const s = new Session(this.options, this.quickStart, (start) => {
      if (this.options.snapshot) this.quickStart = start;
    });
    await s.ready;
    return s;
  }

  /** runs `work` after everything queued before it */
  private queued<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => {});
    return run;
  }

  evaluate(options: EvaluateOptions): Promise<EvaluateResult> {
    return this.queued(() => this.evaluateNow(options)).catch(
      (e): EvaluateResult => ({
        ok: false,
        kind: 'exception',
        error: text(`the runtime failed: ${(e as Error)?.message ?? e}`, MAX_MESSAGE_CHARS),
        logs: [],
      }),
    );
  }

  private async evaluateNow(options: EvaluateOptions): Promise<EvaluateResult> {
    let session: Session;
    try {
      session = await this.live();
    } catch (e) {
      return { ok: false, kind: 'unavailable', error: text((e as Error).message, MAX_MESSAGE_CHARS), logs: [] };
    }
    const host = options.host ?? {};
    const timeoutMs = options.timeoutMs ?? 30_000;
    let job: string;
    try {
      job = JSON.stringify({
        source: String(options.source),
        globals: options.globals ?? {},
        host: Object.keys(host).filter((k) => HOST_NAMES.has(k) && typeof (host as Record<string, unknown>)[k] === 'function'),
        filename: options.filename ?? 'PolicyEvaluator',
      });
    } catch (e) {
      return { ok: false, kind: 'exception', error: `the globals are no JSON: ${(e as Error).message}`, logs: [] };
    }
    const { answer, timedOut } = await session.run({ type: 'evaluate', id: this.nextId++, job }, host, timeoutMs);
    if (timedOut) return { ok: false, kind: 'timeout', error: `the expression did not finish within ${timeoutMs} ms`, logs: [] };
    const result = resultOf(answer);
    // WebAssembly memory never shrinks: a worker that reached its cap is replaced to give the memory back
    if (!result.ok && result.kind === 'memory') session.kill();
    return result;
  }

  checkSyntax(source: string): Promise<CheckResult> {
    return this.queued(() => this.checkNow(source)).catch((e) => ({
      ok: false as const,
      line: 0 as const,
      message: text(`the runtime failed: ${(e as Error)?.message ?? e}`, MAX_MESSAGE_CHARS),
      unavailable: true as const,
    }));
  }

  private async checkNow(source: string): Promise<CheckResult> {
    let session: Session;
    try {
      session = await this.live();
    } catch (e) {
      return { ok: false as const, line: 0 as const, message: text((e as Error).message, MAX_MESSAGE_CHARS), unavailable: true as const };
    }
    const { answer, timedOut } = await session.run({ type: 'check', id: this.nextId++, source: String(source) }, {}, CHECK_TIMEOUT_MS);
    let a: unknown;
    try {
      a = timedOut ? undefined : JSON.parse(answer);
    } catch {}
    if (isObject(a) && a.ok === true) return { ok: true as const };
    if (isObject(a) && typeof a.line === 'number' && typeof a.message === 'string') {
      const r: SyntaxResult = { ok: false, line: a.line, message: text(a.message, MAX_MESSAGE_CHARS) };
      if (typeof a.column === 'number') r.column = a.column;
      return r;
    }
    return { ok: false as const, line: 0 as const, message: 'the syntax could not be checked', unavailable: true as const };
  }

  /** whether a worker is loaded, and what it measured of itself */
  status(): { loaded: boolean; starts: number } & Partial<Session['info']> {
    const live = this.session && !this.session.dead ? this.session : undefined;
    return { loaded: !!live, starts: this.starts, ...live?.info };
  }

  /** ends the worker (at shutdown; a later call starts a new one) */
  async stop(): Promise<void> {
    const s = this.session ?? (await this.starting?.catch(() => undefined));
    this.session = undefined;
    if (s && !s.dead) {
      s.dead = true;
      await s.worker.terminate().catch(() => {});
    }
  }
}

/** the process's runtime, started by its first use */
let shared: ExpressionRuntime | undefined;
const runtime = () => (shared ??= new ExpressionRuntime());

/** runs an expression (see EvaluateOptions); never throws */
export function evaluate(options: EvaluateOptions): Promise<EvaluateResult> {
  return runtime().evaluate(options);
}

/**
 * compiles the expression wrapped as authentik does (a 400 on save with the line): `line` is a line of the admin's
 * text. `unavailable: true` when the runtime could not start (then nothing is known about the syntax).
 */
export function checkSyntax(source: string): Promise<CheckResult> {
  return runtime().checkSyntax(source);
}

/** ends the shared runtime's worker, if any (shutdown) */
export function stopExpressions(): Promise<void> {
  return shared?.stop() ?? Promise.resolve();
}

/** the shared runtime's status (whether a worker is loaded, how many were started), without starting it */
export function sharedRuntimeStatus(): { loaded: boolean; starts: number } {
  const s = shared?.status();
  return { loaded: s?.loaded ?? false, starts: s?.starts ?? 0 };
}
