/**
 * The event matcher policy (authentik's EventMatcherPolicy): passes when the event in the request's context (a
 * notification rule's check) matches every criterion set — query (authentik's query language over events,
 * src/events/ql.ts), action, client IP, app, model; none set matches every event; no event in the context never
 * passes.
 */
import type { DB } from '../../db/index.js';
import { eventMatchesQuery } from '../../events/ql.js';
import type { PolicyConfig, PolicyDef, PolicyResult } from '../types.js';
import { eventMatcherSchema } from './schema.js';

type Config = PolicyConfig<typeof eventMatcherSchema>;

interface EventLike {
  action?: string;
  app?: string;
  client_ip?: string | null;
  context?: { model?: { app?: string; model_name?: string } };
}

/** authentik's app (`authentik.core`) names events by its module, and models by their app label (`authentik_core`) */
function appMatches(app: string, e: EventLike): boolean {
  const ev = e.app ?? '';
  return ev === app || ev.startsWith(`${app}.`) || e.context?.model?.app === app.replaceAll('.', '_');
}

export async function matchEvent(
  db: DB,
  config: Pick<Config, 'query' | 'action' | 'client_ip' | 'app' | 'model'>,
  event: EventLike | undefined,
): Promise<PolicyResult> {
  if (!event || typeof event !== 'object') return { passing: false, messages: [] };
  const checks: PolicyResult[] = [];
  if (config.query)
    checks.push({ passing: await eventMatchesQuery(db, config.query, event as Record<string, unknown>), messages: ['Query matched.'] });
  if (config.action) checks.push({ passing: config.action === event.action, messages: ['Action matched.'] });
  if (config.client_ip) checks.push({ passing: config.client_ip === event.client_ip, messages: ['Client IP matched.'] });
  if (config.app) checks.push({ passing: appMatches(config.app, event), messages: ['App matched.'] });
  if (config.model) {
    const m = event.context?.model ?? {};
    checks.push({ passing: `${m.app}.${m.model_name}` === config.model, messages: ['Model matched.'] });
  }
  return { passing: checks.every((c) => c.passing), messages: checks.flatMap((c) => c.messages) };
}

export const eventMatcherPolicy: PolicyDef = {
  ...eventMatcherSchema,
  async evaluate({ svc, config, request }: { svc: { db: DB }; config: Config; request: { context: Record<string, unknown> } }) {
    return matchEvent(svc.db, config, request.context.event as EventLike | undefined);
  },
  contextOnly: () => true,
};
