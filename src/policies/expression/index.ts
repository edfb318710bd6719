/**
 * Expression policies: authentik's Python, run in the sandboxed Python runtime (src/expressions/), except
 * authentik's default-blueprint expressions, which run natively (native.ts). Python's bool() of the result is the
 * verdict; the messages are what `ak_message` collected; an exception, a timeout or the runtime being unavailable
 * makes the policy fail to run (the binding's failure_result applies).
 */
import { checkSyntax, evaluate } from '../../expressions/index.js';
import { ValidationError } from '../../rest/errors.js';
import type { LogEvent, PolicyCall, PolicyConfig, PolicyDef, PolicyResult } from '../types.js';
import { expressionSchema } from './schema.js';
import { nativeCallOf, nativeOf } from './native.js';
import { expressionHost, pyRequest } from './host.js';

type Config = PolicyConfig<typeof expressionSchema>;

const LEVELS = new Set(['critical', 'exception', 'error', 'warn', 'warning', 'info', 'debug', 'notset']);

async function run(call: PolicyCall<Config>, source: string, name: string): Promise<PolicyResult> {
  const { svc, request } = call;
  const host = expressionHost(
    svc,
    request,
    async (policyName, context) => {
      const row = await svc.db
        .selectFrom('policies')
        .select(['policy_uuid', 'name', 'kind'])
        .where('name', '=', policyName)
        .executeTakeFirst();
      if (!row) throw new Error(`Policy ${policyName} does not exist`);
      if (row.kind === 'expressionpolicy') {
        // run in place: the runtime evaluates one expression at a time, and this one is waiting for the answer
        const text = await svc.db
          .selectFrom('policy_expression' as 'policies')
          .select('expression' as 'name')
          .where('policy_uuid', '=', row.policy_uuid)
          .executeTakeFirst();
        return { expression: (text as unknown as { expression: string } | undefined)?.expression ?? 'return False', name: row.name };
      }
      const r = await svc.policies.runPolicy(
        { uuid: row.policy_uuid, name: row.name, kind: row.kind },
        // (`http` by name: a flow's request has it as a getter, which a spread does not copy)
        { ...request, http: request.http, context: { ...request.context, ...context } },
      );
      if (r.error) throw new Error(r.error);
      return { passing: r.passing, messages: r.messages };
    },
    name,
  );
  const r = await evaluate({ source, globals: { request: pyRequest(request) }, host, timeoutMs: call.timeoutMs, filename: name });
  const log: LogEvent[] = r.logs.map((l) => ({
    event: l.event,
    log_level: (LEVELS.has(l.level) ? l.level : 'info') as LogEvent['log_level'],
    logger: `authentik.policies.expression.${name}`,
    timestamp: new Date().toISOString(),
    attributes: l.attributes,
  }));
  if (!r.ok) {
    const e = new Error(r.exception ? `${r.exception.type}: ${r.exception.message}` : r.error) as Error & { log?: LogEvent[] };
    e.log = log;
    throw e;
  }
  // (an explanation or a test changes nothing)
  if (r.contextChanges && !request.debug) request.onContextChanges?.(r.contextChanges);
  return { passing: r.truthy, messages: r.messages, log };
}

export const expressionPolicy: PolicyDef = {
  ...expressionSchema,
  async validate(data) {
    const source = data.expression;
    if (typeof source !== 'string' || nativeOf(source) || nativeCallOf(source)) return;
    const c = await checkSyntax(source);
    if (c.ok) return;
    if ('unavailable' in c)
      throw new ValidationError({ expression: [`The Python runtime is unavailable, so the expression cannot be checked: ${c.message}`] });
    throw new ValidationError({ expression: [`Expression Syntax Error: ${c.message} (line ${c.line})`] });
  },
  async evaluate(call: PolicyCall<Config>) {
    const native = nativeOf(call.config.expression);
    if (native) return native(call.request);
    const nativeCall = nativeCallOf(call.config.expression);
    if (nativeCall) return nativeCall(call);
    return run(call, call.config.expression, call.policy.name);
  },
  // authentik's default expressions read only the plan's context (native.ts); Python may read anything
  contextOnly: (config: Config) => nativeOf(config.expression) !== undefined,
};
