/**
 * Recovery-code enrolment: codes are generated and shown once; they are stored only as HMACs, and the device is
 * usable once the person confirms they saved them. Until then the clear codes live in the flow state only.
 */
import { deny, ok, show, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import type { StageChallenge } from '../../flows/engine/challenge-types.js';
import type { AuthenticatorStaticChallenge } from './challenge.js';
import { generateStaticToken, hashStaticToken } from '../../mfa/static/static.js';
import { deviceEnrolled, enrolmentUser } from '../enrolment.js';

export interface StaticSetupConfig {
  pk: string;
  name: string;
  friendly_name: string;
  token_count: number;
  token_length: number;
}

async function pending(c: StageCall<StaticSetupConfig>, userId: number): Promise<{ id: number; codes: string[] }> {
  const e = c.ctx.enrolment;
  if (e?.staticDevice !== undefined && e.staticCodes) {
    const d = await c.svc.db.selectFrom('static_devices').select('id').where('id', '=', e.staticDevice).where('user_id', '=', userId).where('confirmed', '=', 0).executeTakeFirst();
    if (d) return { id: d.id, codes: e.staticCodes };
  }
  const now = new Date().toISOString();
  const codes = Array.from({ length: Math.max(1, c.config.token_count) }, () => generateStaticToken(Math.max(6, c.config.token_length)));
  const id = await c.svc.db.transaction().execute(async (tx) => {
    const row = await tx
      .insertInto('static_devices')
      .values({ user_id: userId, name: c.config.friendly_name || 'Static Token', confirmed: 0, created: now, last_updated: now, last_used: null, throttling_failure_timestamp: null, throttling_failure_count: 0 } as never)
      .returning('id')
      .executeTakeFirstOrThrow();
    for (const code of codes) await tx.insertInto('static_tokens').values({ device_id: row.id, token: hashStaticToken(c.svc.secretKey, code) } as never).execute();
    return row.id;
  });
  c.ctx.enrolment = { ...c.ctx.enrolment, staticDevice: id, staticCodes: codes };
  return { id, codes };
}

export const authenticatorStaticRuntime: StageRuntime<StaticSetupConfig> = {
  component: 'ak-stage-authenticator-static',
  withUserInfo: true,
  async challenge(c) {
    const user = await enrolmentUser(c);
    if (!user) return deny();
    const shown: StageChallenge<typeof AuthenticatorStaticChallenge> = { component: 'ak-stage-authenticator-static', codes: (await pending(c, user.id)).codes };
    return show(shown);
  },
  async respond(c) {
    const user = await enrolmentUser(c);
    if (!user) return deny();
    const { id } = await pending(c, user.id);
    const d = await c.svc.db.updateTable('static_devices').set({ confirmed: 1, last_updated: new Date().toISOString() }).where('id', '=', id).returning(['id', 'name']).executeTakeFirstOrThrow();
    c.ctx.enrolment = { ...c.ctx.enrolment, staticDevice: undefined, staticCodes: undefined };
    await deviceEnrolled(c, user, 'static', d);
    return ok();
  },
};
