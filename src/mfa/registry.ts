/**
 * The one list of second-factor device classes. Adding a class: its folder under src/mfa/ (its table, identity,
 * challenge and checks: device-class.ts), its setup stage under src/stages/, and one line here.
 */
import type { VersionedMigration } from '../db/ddl.js';
import type { SecretColumn } from '../instance/secrets.js';
import type { DeviceClass } from './device-class.js';
import { staticClass } from './static/index.js';
import { totpClass } from './totp/index.js';
import { webauthnClass } from './webauthn/index.js';
import { duoClass } from './duo/index.js';
import { smsClass } from './sms/index.js';
import { emailClass } from './email/index.js';

/** in the order of authentik's DeviceClasses choices: the validation stage's `device_classes` and its default */
export const deviceClasses: DeviceClass[] = [staticClass, totpClass, webauthnClass, duoClass, smsClass, emailClass];

/** the ids: the one list of device classes the API accepts */
export const DEVICE_CLASSES: readonly string[] = deviceClasses.map((k) => k.id);

/**
 * in the order of their authentik apps (authentik_stages_authenticator_duo, …_email, …): how a user's devices are
 * listed and used_by, challenges offered and codes checked
 */
export const deviceClassesByApp: DeviceClass[] = [...deviceClasses].sort((a, b) => (a.app < b.app ? -1 : a.app > b.app ? 1 : 0));

const byId = new Map(deviceClasses.map((k) => [k.id, k]));
export const deviceClass = (id: string): DeviceClass | undefined => byId.get(id);

/** the classes' own migrations (the original classes' tables are created by core and setup-stage migrations) */
export function deviceClassMigrations(): Record<string, VersionedMigration> {
  return Object.assign({}, ...deviceClasses.map((k) => k.migrations ?? {}));
}

/** the classes' secret columns, stored encrypted */
export const deviceClassSecretColumns = (): SecretColumn[] => deviceClasses.flatMap((k) => k.secretColumns ?? []);
