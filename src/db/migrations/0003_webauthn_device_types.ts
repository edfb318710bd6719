import type { Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';

/** Well-known authenticator models by AAGUID (from public passkey/FIDO metadata), for device type restrictions. */
export const KNOWN_DEVICE_TYPES: [string, string][] = [
  ['cb69481e-8ff7-4039-93ec-0a2729a154a8', 'YubiKey 5 Series'],
  ['ee882879-721c-4913-9775-3dfcce97072a', 'YubiKey 5 Series'],
  ['fa2b99dc-9e39-4257-8f92-4a30d23c4118', 'YubiKey 5 Series with NFC'],
  ['2fc0579f-8113-47ea-b116-bb5a8db9202a', 'YubiKey 5 Series with NFC'],
  ['ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4', 'Google Password Manager'],
  ['adce0002-35bc-c60a-648b-0b25f1f05503', 'Chrome on Mac'],
  ['fbfc3007-154e-4ecc-8c0b-6e020557d7bd', 'iCloud Keychain'],
  ['08987058-cadc-4b81-b6e1-30de50dcbe96', 'Windows Hello'],
  ['9ddd1817-af5a-4672-a2b9-3e3dd95000a9', 'Windows Hello'],
  ['bada5566-a7aa-401f-bd96-45619a55120d', '1Password'],
  ['d548826e-79b4-db40-a3d8-11116f7e8349', 'Bitwarden'],
  ['531126d6-e717-415c-9320-3d9aa6981239', 'Dashlane'],
  ['50726f74-6f6e-5061-7373-50726f746f6e', 'Proton Pass'],
];

export const m0003_webauthn_device_types: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    await db
      .insertInto('webauthn_device_types')
      .values(KNOWN_DEVICE_TYPES.map(([aaguid, description]) => ({ aaguid, description, icon: null })))
      .execute();
  },
  async down() {
    throw new Error('irreversible');
  },
});
