/** The TOTP device table (created by migration 0002_devices). */
import type { DeviceRow, Throttled } from '../device-class.js';

export interface TotpDevicesTable extends DeviceRow, Throttled {
  /** the key, encrypted (core/secrets.ts) */
  key: string;
  digits: number;
  step: number;
  t0: number;
  drift: number;
  last_t: number;
}

declare module '../../db/types.js' {
  interface Database {
    totp_devices: TotpDevicesTable;
  }
}
