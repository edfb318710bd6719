/** The Duo device table (created by the Duo setup stage's migration; a device is deleted with its stage). */
import type { DeviceRow } from '../device-class.js';

export interface DuoDevicesTable extends DeviceRow {
  stage: string | null;
  duo_user_id: string;
}

declare module '../../db/types.js' {
  interface Database {
    duo_devices: DuoDevicesTable;
  }
}
