/**
 * authentik's OAuthDeviceCodeFinishStage, at the end of the authorization flow a device code started: the code is
 * approved for the person (once — an atomic update; a second approval of the same code is refused) with their
 * session's `sid`, and the page says the device is signed in.
 */
import { deny, ok, show, type StageRuntime } from '../../../../flows/engine/runtime.js';
import type { StageChallenge } from '../../../../flows/engine/challenge-types.js';
import { approveDeviceCode, deviceCodeById } from '../../device/store.js';
import type { FinishState } from '../../device/plan.js';
import type { OAuthDeviceCodeFinishChallenge } from './challenge.js';

const challenge: StageChallenge<typeof OAuthDeviceCodeFinishChallenge> = { component: 'ak-provider-oauth2-device-code-finish' };

export const deviceCodeFinishRuntime: StageRuntime<{ name: string }, FinishState> = {
  component: 'ak-provider-oauth2-device-code-finish',
  withUserInfo: false,
  async challenge(c) {
    const id = c.state.device;
    const user = c.requestUser;
    if (id === undefined || !user) return deny('Invalid code');
    if (!(await approveDeviceCode(c.svc.db, id, user.id, c.session.key ?? null))) {
      // the same person reloading the page sees it again; anyone else finds the code taken
      const row = await deviceCodeById(c.svc.db, id);
      if (row?.user_id !== user.id) return deny('This code has expired or has already been used.');
    }
    return show(challenge);
  },
  async respond() {
    return ok();
  },
};
