/** The pending user's usable devices per class, and the one-challenge-per-class list the stage offers. */
import type { DB } from '../../db/index.js';
import type { DuoDevicesTable, EmailDevicesTable, SmsDevicesTable, StaticDevicesTable, TotpDevicesTable, WebAuthnDevicesTable } from '../../db/types.js';
import { maskEmail } from '../../core/mfa/sidechannel.js';
import type { DeviceChallenge } from '../../flows/context.js';
import { drfDate } from '../../api/serialize.js';

export interface UserDevices {
  duo: DuoDevicesTable[];
  email: EmailDevicesTable[];
  sms: SmsDevicesTable[];
  static: StaticDevicesTable[];
  totp: TotpDevicesTable[];
  webauthn: WebAuthnDevicesTable[];
}

export async function userDevices(db: DB, userId: number): Promise<UserDevices> {
  const [duo, email, sms, st, totp, webauthn] = await Promise.all([
    db.selectFrom('duo_devices').selectAll().where('user_id', '=', userId).where('confirmed', '=', 1).orderBy('id').execute(),
    db.selectFrom('email_devices').selectAll().where('user_id', '=', userId).where('confirmed', '=', 1).orderBy('id').execute(),
    // a verify-only number is stored as a hash and cannot receive codes
    db.selectFrom('sms_devices').selectAll().where('user_id', '=', userId).where('confirmed', '=', 1).where('phone_number', 'not like', 'hash:%').orderBy('id').execute(),
    db.selectFrom('static_devices').selectAll().where('user_id', '=', userId).where('confirmed', '=', 1).orderBy('id').execute(),
    db.selectFrom('totp_devices').selectAll().where('user_id', '=', userId).where('confirmed', '=', 1).orderBy('id').execute(),
    db.selectFrom('webauthn_devices').selectAll().where('user_id', '=', userId).where('confirmed', '=', 1).orderBy('name').execute(),
  ]);
  return { duo, email, sms, static: st, totp, webauthn };
}

/** WebAuthn devices whose authenticator model is allowed (unknown models are allowed, as upstream) */
export function allowedWebAuthn(devices: WebAuthnDevicesTable[], allowedTypes: string[]): WebAuthnDevicesTable[] {
  if (!allowedTypes.length) return devices;
  return devices.filter((d) => d.aaguid === '00000000-0000-0000-0000-000000000000' || allowedTypes.includes(d.aaguid));
}

/** one challenge per allowed class, in authentik's class order, for classes the user has a device of */
export function deviceChallenges(
  devices: UserDevices,
  classes: string[],
  allowedTypes: string[],
  webauthnOptions: () => Record<string, unknown>,
): DeviceChallenge[] {
  const out: DeviceChallenge[] = [];
  const first = (cls: string, d: { id: number; last_used: string | null } | undefined, challenge: Record<string, unknown>) => {
    if (d && classes.includes(cls)) out.push({ device_class: cls, device_uid: String(d.id), challenge, last_used: drfDate(d.last_used) });
  };
  first('duo', devices.duo[0], {});
  const email = devices.email[0];
  first('email', email, email ? { email: maskEmail(email.email) } : {});
  first('sms', devices.sms[0], {});
  first('static', devices.static[0], {});
  first('totp', devices.totp[0], {});
  const wa = allowedWebAuthn(devices.webauthn, allowedTypes)[0];
  if (wa && classes.includes('webauthn')) first('webauthn', wa, webauthnOptions());
  return out;
}
