/**
 * Recovery-code enrolment: codes are generated and shown once; they are stored only as HMACs, and the device is
 * usable once the person confirms they saved them. Until then the clear codes live in the flow state only.
 */
import { deny, ok, show, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import type { StageChallenge } from '../../flows/engine/challenge-types.js';
import type { AuthenticatorStaticChallenge } from './challenge.js';
import { generateStaticToken, hashStaticToken } from '../../mfa/static/static.js';
import { unconfirmedDevice } from '../../mfa/device-class.js';
import { throttleReset } from '../../mfa/throttle.js';
import { deviceEnrolled } from '../enrolment.js';
import type { StageConfig } from '../types.js';
import type { authenticatorStaticSchema } from './schema.js';

/** the stage's settings as its runtime reads them (typed from schema.ts) */
export type StaticSetupConfig = StageConfig<typeof authenticatorStaticSchema>;

/** the unconfirmed device and its codes, shown until confirmed */
interface StaticSetupState {
  device?: number;
  codes?: string[];
}

async function pending(c: StageCall<StaticSetupConfig, StaticSetupState>, userId: number): Promise<{ id: number; codes: string[] }> {
  const e = c.state;
  if (e.device !== undefined && e.codes) {
    const d = await c.svc.db
      .selectFrom('static_devices')
      .select('id')
      .where('id', '=', e.device)
      .where('user_id', '=', userId)
      .where('confirmed', '=', 0)
      .executeTakeFirst();
    if (d) return { id: d.id, codes: e.codes };
  }
  const now = new Date().toISOString();
  const codes = Array.from({ length: Math.max(1, c.config.token_count) }, () => generateStaticToken(Math.max(6, c.config.token_length)));
  const id = await c.svc.db.transaction().execute(async (tx) => {
    const row = await tx
      .insertInto('static_devices')
      .values({ user_id: userId, name: c.config.friendly_name || 'Static Token', ...unconfirmedDevice(now), ...throttleReset } as never)
      .returning('id')
      .executeTakeFirstOrThrow();
    for (const code of codes)
      await tx
        .insertInto('static_tokens')
        .values({ device_id: row.id, token: hashStaticToken(c.svc.secretKey, code) } as never)
        .execute();
    return row.id;
  });
  c.state.device = id;
  c.state.codes = codes;
  return { id, codes };
}

export const authenticatorStaticRuntime: StageRuntime<StaticSetupConfig, StaticSetupState> = {
  component: 'ak-stage-authenticator-static',
  withUserInfo: true,
  async challenge(c) {
    const user = await c.pendingUser();
    if (!user) return deny();
    const shown: StageChallenge<typeof AuthenticatorStaticChallenge> = {
      component: 'ak-stage-authenticator-static',
      codes: (await pending(c, user.id)).codes,
    };
    return show(shown);
  },
  async respond(c) {
    const user = await c.pendingUser();
    if (!user) return deny();
    const { id } = await pending(c, user.id);
    const d = await c.svc.db
      .updateTable('static_devices')
      .set({ confirmed: 1, last_updated: new Date().toISOString() })
      .where('id', '=', id)
      .returning(['id', 'name'])
      .executeTakeFirstOrThrow();
    c.state.device = undefined;
    c.state.codes = undefined;
    await deviceEnrolled(c, user, 'static', d);
    return ok();
  },
};
