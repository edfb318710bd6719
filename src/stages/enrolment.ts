/** Shared by the setup stages: whose device is being enrolled. */
import type { UsersTable } from '../db/types.js';
import { isPlaceholder } from '../flows/engine/context.js';
import type { StageCall } from '../flows/engine/runtime.js';
import { deviceClass } from '../mfa/registry.js';

/** the pending user (a real one), else the logged-in user; undefined when there is nobody to enrol */
export async function enrolmentUser(c: StageCall<unknown>): Promise<UsersTable | undefined> {
  const p = c.ctx.pendingUser;
  if (p && !isPlaceholder(p))
    return (await c.svc.db.selectFrom('users').selectAll().where('id', '=', p.id!).executeTakeFirst()) as UsersTable | undefined;
  if (p) return undefined;
  return c.requestUser;
}

/**
 * A device enrolled in a setup stage is audited as authentik audits a created model: `model_created`, by the
 * device's owner, with the device (app, model_name, pk, name) in the context.
 */
export async function deviceEnrolled(
  c: StageCall<unknown>,
  user: UsersTable,
  cls: string,
  device: { id: number; name: string },
): Promise<void> {
  const d = deviceClass(cls);
  if (!d) throw new Error(`no device class ${cls}`);
  await c.svc.events.emit('model_created', {
    user: { pk: user.id, username: user.username, email: user.email },
    clientIp: c.clientIp,
    context: { model: { app: d.app, model_name: d.model.toLowerCase(), pk: device.id, name: device.name }, stage: c.stage.name },
  });
}
