/** The messages between the expression runtime (index.ts, Keystage's thread) and its worker (worker.ts). */

/** what the worker is started with (workerData) */
export interface WorkerSetup {
  /** the bridge: Int32 [state, answer length] then the answer's bytes (state 0 = waiting, 1 = answered) */
  control: SharedArrayBuffer;
  /** the largest the interpreter's WebAssembly memory may grow to, in bytes */
  memoryLimitBytes: number;
  /** the longest arguments of one host call, in characters */
  maxCallChars: number;
  /** the longest answer of one evaluation, in characters */
  maxAnswerChars: number;
  /**
   * the interpreter's memory right after an earlier worker loaded it (pyodide's memory snapshot): a restart from it
   * skips CPython's start-up. Without it the worker loads from scratch and sends one (`snapshot`).
   */
  snapshot?: Uint8Array;
  /** pyodide's compiled WebAssembly module (a WebAssembly.Module) from an earlier worker: no compiling again */
  wasmModule?: object;
}

/** Keystage → worker */
export type ToWorker = { type: 'evaluate'; id: number; job: string } | { type: 'check'; id: number; source: string };

/** worker → Keystage */
export type FromWorker =
  /** loaded and locked down; `selfCheck` lists what the lock-down could not remove (empty when it holds) */
  | {
      type: 'ready';
      selfCheck: string[];
      heapBytes: number;
      wasmBytes: number;
      /** pyodide loaded, the runtime installed (and warmed up), the lock-down */
      timings: { loadMs: number; installMs: number; lockDownMs: number };
    }
  | { type: 'failed'; error: string }
  /** the interpreter's memory right after loading, before anything else ran in it (for the next workers) */
  | { type: 'snapshot'; bytes: Uint8Array; wasmModule?: object }
  /** a host call: Python is blocked until the answer is in the control buffer */
  | { type: 'call'; name: string; args: string }
  /** the answer (JSON text) to evaluate or check; `fatal`: the interpreter cannot be used again */
  | { type: 'answer'; id: number; answer: string; fatal?: boolean };

/** the bridge's layout */
export const CONTROL_HEADER_BYTES = 8;
