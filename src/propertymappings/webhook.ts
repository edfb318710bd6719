/**
 * Webhook mappings (authentik's NotificationWebhookMapping): an expression whose dict becomes the body of an
 * outgoing webhook request. The SMS stage evaluates one with `user`, `request`, `device`, `token` (the code) and
 * `stage`, as authentik's `mapping.evaluate(user=…, request=…, device=…, token=…, stage=…)`. A mapping that raises,
 * times out or answers something other than a dict sends nothing: the error is recorded as a
 * `property_mapping_exception` event and thrown to the caller.
 */
import { evaluate, type JsonObject } from '../expressions/index.js';
import type { UsersTable } from '../db/types.js';
import type { Services } from '../services.js';
import { policyUser } from '../policies/request.js';
import { mappingHost } from './scope.js';

export interface WebhookMappingCall {
  user: UsersTable;
  /** the rest of the expression's variables (`device`, `token`, `stage`, …) */
  vars: JsonObject;
}

export class WebhookMappingError extends Error {}

/** the mapping's payload, or a WebhookMappingError (after the event) */
export async function evaluateWebhookMapping(svc: Services, pmUuid: string, call: WebhookMappingCall): Promise<Record<string, unknown>> {
  const mapping = await svc.db
    .selectFrom('property_mappings')
    .select(['pm_uuid', 'name', 'expression'])
    .where('pm_uuid', '=', pmUuid)
    .where('kind', '=', 'notificationwebhookmapping')
    .executeTakeFirst();
  if (!mapping) throw new WebhookMappingError(`webhook mapping ${pmUuid} does not exist`);
  const user = policyUser(call.user) as JsonObject;
  let message: string;
  try {
    const r = await evaluate({
      source: mapping.expression,
      globals: { ...call.vars, user, request: { user, obj: null, context: {}, debug: false } },
      host: mappingHost(svc, { user: call.user, provider: { id: 0, name: '' } }),
      timeoutMs: 30_000,
      filename: mapping.name,
    });
    if (r.ok && r.value !== null && typeof r.value === 'object' && !Array.isArray(r.value)) return r.value as Record<string, unknown>;
    message = r.ok
      ? `Mapping result is not a dictionary: ${JSON.stringify(r.value)}`
      : r.exception
        ? `${r.exception.type}: ${r.exception.message}`
        : r.error;
  } catch (e) {
    message = e instanceof Error ? e.message : String(e);
  }
  await svc.events.emit('property_mapping_exception', {
    user: { pk: call.user.id, username: call.user.username, email: call.user.email },
    context: {
      expression: mapping.expression,
      message,
      mapping: { app: 'authentik_events', model_name: 'notificationwebhookmapping', pk: mapping.pm_uuid, name: mapping.name },
    },
  });
  throw new WebhookMappingError(`webhook mapping ${mapping.name}: ${message}`);
}
