/**
 * The Telegram Login Widget's answer checked as Telegram documents it (https://core.telegram.org/widgets/login) and
 * authentik's TelegramAuth does: the fields but `hash`, sorted, `key=value` lines, HMAC-SHA-256 keyed with the
 * SHA-256 of the bot token, compared in constant time; `auth_date` at most five minutes old.
 */
import { createHash, createHmac } from 'node:crypto';
import { sameText } from '../../crypto/compare.js';

export interface TelegramIdentity {
  id: number;
  first_name?: string;
  last_name?: string;
  username?: string;
  photo_url?: string;
}

const FIELDS = ['id', 'first_name', 'last_name', 'username', 'photo_url', 'auth_date', 'hash'] as const;

export type Checked = { ok: true; identity: TelegramIdentity } | { ok: false; errors: Record<string, string[]> };

export function checkTelegramAuth(data: Record<string, unknown>, botToken: string, now = Date.now()): Checked {
  const errors: Record<string, string[]> = {};
  const values: Record<string, string> = {};
  for (const f of FIELDS) {
    const v = data[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' && typeof v !== 'number') {
      errors[f] = ['Not a valid string.'];
      continue;
    }
    values[f] = String(v);
  }
  for (const f of ['id', 'auth_date', 'hash'] as const) if (values[f] === undefined) errors[f] ??= ['This field is required.'];
  for (const f of ['id', 'auth_date'] as const)
    if (values[f] !== undefined && !/^-?\d+$/.test(values[f])) errors[f] = ['A valid integer is required.'];
  for (const f of ['first_name', 'last_name', 'username'] as const)
    if ((values[f]?.length ?? 0) > 255) errors[f] = ['Ensure this field has no more than 255 characters.'];
  if ((values.hash?.length ?? 0) > 64) errors.hash = ['Ensure this field has no more than 64 characters.'];
  if (values.photo_url !== undefined && !/^https?:\/\/[^\s]+$/i.test(values.photo_url)) errors.photo_url = ['Enter a valid URL.'];
  if (Object.keys(errors).length) return { ok: false, errors };
  if (Number(values.auth_date) * 1000 < now - 5 * 60_000) return { ok: false, errors: { auth_date: ['Authentication date is too old'] } };
  const checkString = Object.keys(values)
    .filter((k) => k !== 'hash')
    .sort()
    .map((k) => `${k}=${values[k]}`)
    .join('\n');
  const digest = createHmac('sha256', createHash('sha256').update(botToken, 'utf8').digest()).update(checkString, 'utf8').digest('hex');
  if (!sameText(digest, values.hash!.toLowerCase())) return { ok: false, errors: { non_field_errors: ['Invalid hash'] } };
  const identity: TelegramIdentity = { id: Number(values.id) };
  for (const f of ['first_name', 'last_name', 'username', 'photo_url'] as const) if (values[f] !== undefined) identity[f] = values[f];
  return { ok: true, identity };
}
