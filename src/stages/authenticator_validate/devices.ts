/** The pending user's usable devices per class, and the one-challenge-per-class list the stage offers. */
import { sql, type Compilable } from 'kysely';
import type { DB } from '../../db/index.js';
import { hot, perDatabase, type Hot } from '../../db/hot.js';
import type { DuoDevicesTable, EmailDevicesTable, SmsDevicesTable, StaticDevicesTable, TotpDevicesTable, WebAuthnDevicesTable } from '../../db/types.js';
import { maskEmail } from '../../mfa/sidechannel.js';
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

type DeviceTable = 'duo_devices' | 'email_devices' | 'sms_devices' | 'static_devices' | 'totp_devices' | 'webauthn_devices';
const TABLES: Record<keyof UserDevices, { table: DeviceTable; order: 'id' | 'name' }> = {
  duo: { table: 'duo_devices', order: 'id' },
  email: { table: 'email_devices', order: 'id' },
  sms: { table: 'sms_devices', order: 'id' },
  static: { table: 'static_devices', order: 'id' },
  totp: { table: 'totp_devices', order: 'id' },
  webauthn: { table: 'webauthn_devices', order: 'name' },
};
const CLASSES = Object.keys(TABLES) as (keyof UserDevices)[];

const deviceQueries = perDatabase((db) => {
  /** the user's usable devices of one class: the one definition both the class probe and the loads use */
  const usable = (cls: keyof UserDevices, user: unknown) => {
    const q = db.selectFrom(TABLES[cls].table).where('user_id', '=', user as number).where('confirmed', '=', 1);
    // a verify-only number is stored as a hash and cannot receive codes
    return cls === 'sms' ? q.where('phone_number', 'not like', 'hash:%') : q;
  };
  const load = (cls: keyof UserDevices) => hot<{ user: number }, unknown>(db, ['user'], (p) => usable(cls, p.user).selectAll().orderBy(TABLES[cls].order) as Compilable<unknown>);
  return {
    load: Object.fromEntries(CLASSES.map((cls) => [cls, load(cls)])) as Record<keyof UserDevices, Hot<{ user: number }, unknown>>,
    // which classes the user has a usable device of, in one statement: most users have one or two
    classes: hot<{ user: number }, { cls: keyof UserDevices }>(db, ['user'], (p) =>
      CLASSES.map((cls) => usable(cls, p.user).select(sql.lit(cls).$castTo<keyof UserDevices>().as('cls'))).reduce((all, one) => all.unionAll(one)),
    ),
  };
});

/** the user's confirmed devices of every class: one statement finds the classes, one per class present loads them */
export async function userDevices(db: DB, userId: number): Promise<UserDevices> {
  const q = deviceQueries(db);
  const p = { user: userId };
  const has = new Set((await q.classes(p)).map((r) => r.cls));
  const lists = await Promise.all(CLASSES.map((cls) => (has.has(cls) ? q.load[cls](p) : Promise.resolve([]))));
  return Object.fromEntries(CLASSES.map((cls, i) => [cls, lists[i]])) as unknown as UserDevices;
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
