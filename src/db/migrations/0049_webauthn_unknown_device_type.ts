import type { Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';

/** the pseudo device type's row */
export const UNKNOWN_DEVICE_TYPE = { aaguid: '00000000-0000-0000-0000-000000000000', description: 'authentik: Unknown devices' } as const;

/**
 * authentik's pseudo device type "authentik: Unknown devices" (the all-zero AAGUID): a WebAuthn setup stage that lists
 * it among its device_type_restrictions also admits authenticators whose model has no device type (upstream's
 * UNKNOWN_DEVICE_TYPE_AAGUID, added beside the FIDO metadata it imports).
 */
export const m0049_webauthn_unknown_device_type: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    await db
      .insertInto('webauthn_device_types')
      .values({ aaguid: UNKNOWN_DEVICE_TYPE.aaguid, description: UNKNOWN_DEVICE_TYPE.description, icon: null })
      .onConflict((oc) => oc.column('aaguid').doNothing())
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.deleteFrom('webauthn_device_types').where('aaguid', '=', UNKNOWN_DEVICE_TYPE.aaguid).execute();
  },
});
