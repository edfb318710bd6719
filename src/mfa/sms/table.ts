/** The SMS device table (created by the SMS setup stage's migration). */
import type { SideChannelColumns } from '../sidechannel.js';

export interface SmsDevicesTable extends SideChannelColumns {
  /** in clear, or `hash:<sha256>` for a verify-only number (never offered for login) */
  phone_number: string;
}

declare module '../../db/types.js' {
  interface Database {
    sms_devices: SmsDevicesTable;
  }
}
