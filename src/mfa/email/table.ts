/** The e-mail device table (created by the e-mail setup stage's migration). */
import type { SideChannelColumns } from '../sidechannel.js';

export interface EmailDevicesTable extends SideChannelColumns {
  email: string;
}

declare module '../../db/types.js' {
  interface Database {
    email_devices: EmailDevicesTable;
  }
}
