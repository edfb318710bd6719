/** The pending user's usable devices per class, and the one-challenge-per-class list the stage offers. */
import { sql, type Compilable } from 'kysely';
import type { DB } from '../../db/index.js';
import { hot } from '../../db/hot.js';
import type { DuoDevicesTable, EmailDevicesTable, SmsDevicesTable, StaticDevicesTable, TotpDevicesTable, WebAuthnDevicesTable } from '../../db/types.js';
import { maskEmail } from '../../core/mfa/sidechannel.js';
import type { DeviceChallenge } from '../../flows/context.js';
import { drfDate } from '../../api/serialize.js';
import { KNOWN_DEVICE_TYPES } from '../../db/migrations/0003_webauthn_device_types.js';

export interface UserDevices {
  duo: DuoDevicesTable[];
  email: EmailDevicesTable[];
  sms: SmsDevicesTable[];
  static: StaticDevicesTable[];
  totp: TotpDevicesTable[];
  webauthn: WebAuthnDevicesTable[];
}

function deviceQueries(db: DB) {
  const q = <T>(build: (p: { user: number }) => Compilable<T>) => hot<{ user: number }, T>(db, ['user'], build);
  return {
    duo: q((p) => db.selectFrom('duo_devices').selectAll().where('user_id', '=', p.user).where('confirmed', '=', 1).orderBy('id')),
    email: q((p) => db.selectFrom('email_devices').selectAll().where('user_id', '=', p.user).where('confirmed', '=', 1).orderBy('id')),
    // a verify-only number is stored as a hash and cannot receive codes
    sms: q((p) => db.selectFrom('sms_devices').selectAll().where('user_id', '=', p.user).where('confirmed', '=', 1).where('phone_number', 'not like', 'hash:%').orderBy('id')),
    static: q((p) => db.selectFrom('static_devices').selectAll().where('user_id', '=', p.user).where('confirmed', '=', 1).orderBy('id')),
    totp: q((p) => db.selectFrom('totp_devices').selectAll().where('user_id', '=', p.user).where('confirmed', '=', 1).orderBy('id')),
    webauthn: q((p) => db.selectFrom('webauthn_devices').selectAll().where('user_id', '=', p.user).where('confirmed', '=', 1).orderBy('name')),
    // which classes the user has a confirmed device of, in one statement: most users have one or two
    classes: hot<{ user: number }, { cls: keyof UserDevices }>(db, ['user'], (p) => {
      const of = (table: 'duo_devices' | 'email_devices' | 'sms_devices' | 'static_devices' | 'totp_devices' | 'webauthn_devices', cls: keyof UserDevices) =>
        db.selectFrom(table).select(sql.lit(cls).$castTo<keyof UserDevices>().as('cls')).where('user_id', '=', p.user).where('confirmed', '=', 1);
      return of('duo_devices', 'duo')
        .unionAll(of('email_devices', 'email'))
        .unionAll(of('sms_devices', 'sms').where('phone_number', 'not like', 'hash:%'))
        .unionAll(of('static_devices', 'static'))
        .unionAll(of('totp_devices', 'totp'))
        .unionAll(of('webauthn_devices', 'webauthn'));
    }),
  };
}

const compiled = new WeakMap<DB, ReturnType<typeof deviceQueries>>();

/** the user's confirmed devices of every class: one statement finds the classes, one per class present loads them */
export async function userDevices(db: DB, userId: number): Promise<UserDevices> {
  let q = compiled.get(db);
  if (!q) compiled.set(db, (q = deviceQueries(db)));
  const p = { user: userId };
  const has = new Set((await q.classes(p)).map((r) => r.cls));
  const of = <T>(cls: keyof UserDevices, load: (p: { user: number }) => Promise<T[]>) => (has.has(cls) ? load(p) : Promise.resolve([] as T[]));
  const [duo, email, sms, st, totp, webauthn] = await Promise.all([of('duo', q.duo), of('email', q.email), of('sms', q.sms), of('static', q.static), of('totp', q.totp), of('webauthn', q.webauthn)]);
  return { duo, email, sms, static: st, totp, webauthn };
}

/** AAGUIDs with a row in webauthn_device_types (seeded, read-only) */
const KNOWN_AAGUIDS = new Set(KNOWN_DEVICE_TYPES.map(([aaguid]) => aaguid));

/**
 * WebAuthn devices whose authenticator model is allowed. As upstream, a restriction only applies to devices of a
 * known type: a model missing from webauthn_device_types (or an all-zero AAGUID) is allowed.
 */
export function allowedWebAuthn(devices: WebAuthnDevicesTable[], allowedTypes: string[]): WebAuthnDevicesTable[] {
  if (!allowedTypes.length) return devices;
  return devices.filter((d) => !KNOWN_AAGUIDS.has(d.aaguid) || allowedTypes.includes(d.aaguid));
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
