/** The recovery-code tables (created by migration 0002_devices): a device and its remaining codes, as HMACs. */
import type { DeviceRow, Throttled } from '../device-class.js';

export type StaticDevicesTable = DeviceRow & Throttled;

export interface StaticTokensTable {
  id: number;
  device_id: number;
  token: string;
}

declare module '../../db/types.js' {
  interface Database {
    static_devices: StaticDevicesTable;
    static_tokens: StaticTokensTable;
  }
}
