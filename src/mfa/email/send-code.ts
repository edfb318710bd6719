/** Sending a code to an e-mail device, with the settings of the stage that enrolled it. */
import type { UsersTable } from '../../db/types.js';
import type { EmailDevicesTable } from './table.js';
import { parseDuration } from '../../rest/duration.js';
import { issueCode } from '../sidechannel.js';
import type { Services } from '../../flows/engine/runtime.js';
import { loadStageConfig } from '../../stages/resource.js';
import { authenticatorEmailSchema } from '../../stages/authenticator_email/schema.js';
import { sendCode, type EmailSettings } from '../../stages/authenticator_email/send.js';

export type EmailStageConfig = EmailSettings & { pk: string; name: string; friendly_name: string; token_expiry: string };

export async function sendEmailDeviceCode(
  svc: Services,
  device: EmailDevicesTable,
  user: UsersTable,
  nonce: string,
  stage?: EmailStageConfig,
): Promise<void> {
  const cfg = stage ?? (device.stage ? await loadStageConfig<EmailStageConfig>(svc.db, authenticatorEmailSchema, device.stage) : undefined);
  if (!cfg) throw new Error('the e-mail device has no stage to send with');
  const ttl = parseDuration(cfg.token_expiry) ?? 30 * 60_000;
  const code = await issueCode(svc.db, 'email_devices', device.id, svc.secretKey, nonce, ttl);
  await sendCode(cfg, svc.config, device.email, { code, expires: cfg.token_expiry.replace(/=/g, ' '), user: user.username });
  await svc.events.emit('email_sent', {
    user: { pk: user.id, username: user.username, email: user.email },
    context: { to: device.email, stage: cfg.name },
  });
}
