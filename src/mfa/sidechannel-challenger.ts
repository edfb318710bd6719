/**
 * The validation-stage part shared by classes whose codes are sent to the device (e-mail, SMS): choosing a device
 * sends it a code bound to the login attempt, within the send limits (a refused send reserves nothing and sends
 * nothing; a send that fails shows the stage again with the reason — the provider's words when it refused — and is
 * recorded as a configuration_error event); a typed code is checked against the codes sent in this attempt.
 */
import type { Challenger, DeviceTable, Validation } from './device-class.js';
import { reserveSend, SEND_LIMIT_MESSAGE } from './send-limit.js';
import { consumeCode, newNonce, type SideChannelColumns } from './sidechannel.js';

/** the transport refused the message (an SMS provider's error answer): its words are shown to the person */
export class SendRefused extends Error {}

/** what the person is told when a code could not be sent for another reason (the reason is for the admins' events) */
export const SEND_FAILED_MESSAGE = 'The code could not be sent. Try again later, or choose another device.';

export function sideChannelChallenger<Row extends SideChannelColumns>(o: {
  table: DeviceTable;
  /** the challenge shown for the user's first device */
  challenge: (d: Row) => Record<string, unknown>;
  /** sends `nonce`'s code to the device (issueCode, then the class's transport) */
  send: (v: Validation, d: Row, nonce: string) => Promise<void>;
  /** what sends the code, as a failure's event names it ("SMS", "e-mail") */
  transport: string;
  /** the validation stage's throttling factor for the class */
  factor: (v: Validation) => number;
}): Challenger<Row> {
  return {
    answer: 'code',
    attemptBound: true,
    challenge: (_v, devices) => (devices[0] ? { device: devices[0], challenge: o.challenge(devices[0]) } : undefined),
    async initiate(v, devices, deviceId) {
      const { c, user } = v;
      const nonce = (c.ctx.sideChannelNonce ??= newNonce());
      const d = devices.find((x) => x.id === deviceId);
      if (!d) return undefined;
      if (
        !(await reserveSend(c.svc.db, c.svc.config.mfaSend, {
          table: o.table,
          deviceId: d.id,
          nonce,
          ip: c.clientIp,
          identifier: user.username,
        }))
      )
        return SEND_LIMIT_MESSAGE;
      try {
        await o.send(v, d, nonce);
      } catch (e) {
        // authentik: the stage is shown again with the error on `selected_challenge`, and a configuration_error event
        const message = e instanceof Error ? e.message : String(e);
        await c.svc.events
          .emit('configuration_error', {
            req: c.req,
            ...(c.ctx.pendingUser?.id ? { user: { pk: c.ctx.pendingUser.id, username: user.username } } : {}),
            context: { message: `Error sending ${o.transport}: ${message}` },
          })
          .catch(() => undefined);
        return e instanceof SendRefused ? message : SEND_FAILED_MESSAGE;
      }
      return undefined;
    },
    async verify(v, devices, code) {
      const { c } = v;
      const nonce = c.ctx.sideChannelNonce;
      if (!nonce) return undefined;
      for (const d of devices)
        if (await consumeCode(c.svc.db, o.table, d, c.svc.secretKey, nonce, code as string, o.factor(v))) return { device: d };
      return undefined;
    },
  };
}
