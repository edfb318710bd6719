/** Device classes and their authentik identities (labels, verbose names), shared by the device APIs and used_by. */
import type { UsedBy } from '../../api/resource.js';
import type { DB } from '../../db/index.js';
import type { UsersTable } from '../../db/types.js';

export const DEVICE_CLASSES = {
  duo: {
    table: 'duo_devices',
    app: 'authentik_stages_authenticator_duo',
    model: 'DuoDevice',
    verbose: 'Duo Device',
  },
  email: {
    table: 'email_devices',
    app: 'authentik_stages_authenticator_email',
    model: 'EmailDevice',
    verbose: 'Email Device',
  },
  sms: {
    table: 'sms_devices',
    app: 'authentik_stages_authenticator_sms',
    model: 'SMSDevice',
    verbose: 'SMS Device',
  },
  static: {
    table: 'static_devices',
    app: 'authentik_stages_authenticator_static',
    model: 'StaticDevice',
    verbose: 'Static Device',
  },
  totp: {
    table: 'totp_devices',
    app: 'authentik_stages_authenticator_totp',
    model: 'TOTPDevice',
    verbose: 'TOTP Device',
  },
  webauthn: {
    table: 'webauthn_devices',
    app: 'authentik_stages_authenticator_webauthn',
    model: 'WebAuthnDevice',
    verbose: 'WebAuthn Device',
  },
} as const;

export type DeviceClass = keyof typeof DEVICE_CLASSES;

/** used_by of a user: its devices (cascade). Tokens are not listed, as upstream. */
export async function userDeviceUsedBy(db: DB, user: UsersTable): Promise<UsedBy[]> {
  const out: UsedBy[] = [];
  for (const [cls, d] of Object.entries(DEVICE_CLASSES)) {
    const rows = await db.selectFrom(d.table).select(['id', 'name']).where('user_id', '=', user.id).orderBy('id').execute();
    for (const r of rows)
      out.push({
        app: d.app,
        model_name: d.model.toLowerCase(),
        pk: String(r.id),
        name: cls === 'webauthn' ? r.name : `${r.name} (${user.username})`,
        action: 'cascade',
      });
  }
  return out;
}
