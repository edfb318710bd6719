/**
 * Sending a code by SMS: Twilio's Messages API (form POST, basic auth with the account SID and token) or a generic
 * webhook (JSON {From, To, Body: the code, Message: the text}, basic or bearer auth), with the settings of the stage
 * that enrolled the device. The stage's webhook mapping, when set, makes the generic webhook's whole body, or the
 * text Twilio sends (its `message` key), as authentik's `send_generic` and `send_twilio`; a mapping that fails sends
 * nothing.
 */
import { SendRefused } from '../sidechannel-challenger.js';
import type { SmsDevicesTable } from './table.js';
import { issueCode } from '../sidechannel.js';
import type { Services } from '../../flows/engine/runtime.js';
import { loadStageConfig } from '../../stages/resource.js';
import { authenticatorSmsSchema } from '../../stages/authenticator_sms/schema.js';
import { evaluateWebhookMapping } from '../../propertymappings/webhook.js';
import { userById } from '../../users/by-id.js';

export interface SmsStageConfig {
  pk: string;
  name: string;
  friendly_name: string;
  provider: 'twilio' | 'generic';
  from_number: string;
  account_sid: string;
  auth: string;
  auth_password: string;
  auth_type: 'basic' | 'bearer';
  verify_only: boolean;
  /** a webhook mapping (property_mappings, kind notificationwebhookmapping) */
  mapping: string | null;
}

const SMS_TTL_MS = 300_000;
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

/** what is sent: the text (Twilio's Body), or the generic webhook's whole JSON body */
export interface SmsMessage {
  text: string;
  json: Record<string, unknown>;
}

export async function sendSms(svc: Services, cfg: SmsStageConfig, to: string, message: SmsMessage): Promise<void> {
  let res: Response;
  if (cfg.provider === 'twilio') {
    const url = `${svc.config.twilioApiUrl.replace(/\/$/, '')}/2010-04-01/Accounts/${encodeURIComponent(cfg.account_sid)}/Messages.json`;
    res = await fetch(url, {
      method: 'POST',
      headers: { authorization: basic(cfg.account_sid, cfg.auth), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ To: to, From: cfg.from_number, Body: message.text }).toString(),
      signal: AbortSignal.timeout(10_000),
    });
  } else {
    res = await fetch(cfg.account_sid, {
      method: 'POST',
      headers: {
        authorization: cfg.auth_type === 'bearer' ? `Bearer ${cfg.auth}` : basic(cfg.auth, cfg.auth_password),
        'content-type': 'application/json',
      },
      body: JSON.stringify(message.json),
      signal: AbortSignal.timeout(10_000),
    });
  }
  if (!res.ok) throw await refusal(cfg, res);
}

/**
 * the provider refused the message (an HTTP error answer): what it said, shown to the person on the stage as authentik
 * shows it (Twilio's error `message`; the generic webhook's answer text), so a mistyped number can be corrected
 */
export class SmsRefused extends SendRefused {}

const MAX_REFUSAL_TEXT = 500;

async function refusal(cfg: SmsStageConfig, res: Response): Promise<SmsRefused> {
  const text = (await res.text().catch(() => '')).slice(0, 64 * 1024);
  let said = text;
  if (cfg.provider === 'twilio')
    try {
      const body = JSON.parse(text) as { message?: unknown };
      if (typeof body.message === 'string') said = body.message;
    } catch {
      // not Twilio's JSON: its text as it is
    }
  said = said.replace(/\s+/g, ' ').trim().slice(0, MAX_REFUSAL_TEXT);
  // an error page (a proxy's, a framework's) is no message for a person: the status only
  if (/^</.test(said) || /html/i.test(res.headers.get('content-type') ?? '')) said = '';
  return new SmsRefused(said || `SMS provider answered HTTP ${res.status}`);
}

/** the message of a code: authentik's payload, or the stage's webhook mapping's */
async function messageOf(svc: Services, cfg: SmsStageConfig, device: SmsDevicesTable, code: string): Promise<SmsMessage> {
  const text = `Use this code to authenticate: ${code}`;
  const json: Record<string, unknown> = { From: cfg.from_number, To: device.phone_number, Body: code, Message: text };
  if (!cfg.mapping) return { text, json };
  const user = await userById(svc.db, device.user_id);
  if (!user) throw new Error('the SMS device has no user');
  const payload = await evaluateWebhookMapping(svc, cfg.mapping, {
    user,
    vars: {
      token: code,
      device: { pk: device.id, name: device.name, phone_number: device.phone_number, confirmed: !!device.confirmed },
      stage: { pk: cfg.pk, name: cfg.name, provider: cfg.provider, from_number: cfg.from_number },
    },
  });
  return { text: typeof payload.message === 'string' ? payload.message : text, json: payload };
}

export async function loadSmsStage(svc: Services, id: string | null): Promise<SmsStageConfig | undefined> {
  return id ? loadStageConfig<SmsStageConfig>(svc.db, authenticatorSmsSchema, id) : undefined;
}

export async function sendSmsDeviceCode(svc: Services, device: SmsDevicesTable, nonce: string, stage?: SmsStageConfig): Promise<void> {
  const cfg = stage ?? (await loadSmsStage(svc, device.stage));
  if (!cfg) throw new Error('the SMS device has no stage to send with');
  const code = await issueCode(svc.db, 'sms_devices', device.id, svc.secretKey, nonce, SMS_TTL_MS);
  await sendSms(svc, cfg, device.phone_number, await messageOf(svc, cfg, device, code));
}
