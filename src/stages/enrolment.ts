/** Shared by the setup stages: the audit event of a device enrolled (whose device: StageCall.pendingUser). */
import type { UsersTable } from '../db/types.js';
import type { StageCall } from '../flows/engine/runtime.js';
import { deviceClass } from '../mfa/registry.js';

/**
 * A device enrolled in a setup stage is audited as authentik audits a created model: `model_created`, by the
 * device's owner, with the device (app, model_name, pk, name) in the context.
 */
export async function deviceEnrolled(
  c: StageCall<unknown>,
  user: UsersTable,
  cls: string,
  device: { id: number; name: string; aaguid?: string },
): Promise<void> {
  const d = deviceClass(cls);
  if (!d) throw new Error(`no device class ${cls}`);
  await c.svc.events.emit('model_created', {
    user: { pk: user.id, username: user.username, email: user.email },
    req: c.req,
    context: { model: { app: d.app, model_name: d.model.toLowerCase(), pk: device.id, name: device.name }, stage: c.stage.name },
  });
  await c.svc.signals.credentialChanged({
    userId: user.id,
    credentialType: d.credentialType ?? null,
    changeType: 'create',
    friendlyName: device.name,
    ...(device.aaguid ? { fido2Aaguid: device.aaguid } : {}),
  });
}
