/** The WebAuthn device table (created by migration 0002_devices; the known models are webauthn_device_types). */
import type { DeviceRow } from '../device-class.js';

export interface WebAuthnDevicesTable extends DeviceRow {
  credential_id: string;
  public_key: string;
  sign_count: number;
  rp_id: string;
  aaguid: string;
  transports: string;
}

declare module '../../db/types.js' {
  interface Database {
    webauthn_devices: WebAuthnDevicesTable;
  }
}
