/**
 * authentik's OAuthDeviceCodeStage: appended to the brand's `flow_device_code`, it asks for the code a device shows.
 * A valid code replaces the running plan with the code's provider's authorization flow (device/plan.ts) and sends
 * the person there; anything else is "Invalid code".
 */
import { redirectChallenge } from '../../../../flows/engine/challenge.js';
import { fieldError, invalid, show, type StageRuntime } from '../../../../flows/engine/runtime.js';
import type { StageChallenge } from '../../../../flows/engine/challenge-types.js';
import { planDeviceAuthorization } from '../../device/plan.js';
import type { OAuthDeviceCodeChallenge } from './challenge.js';

const challenge: StageChallenge<typeof OAuthDeviceCodeChallenge> = { component: 'ak-provider-oauth2-device-code' };

export const deviceCodeRuntime: StageRuntime<{ name: string }> = {
  component: 'ak-provider-oauth2-device-code',
  withUserInfo: false,
  async challenge() {
    return show(challenge);
  },
  async respond(c, body) {
    const code = typeof body.code === 'string' ? body.code : typeof body.code === 'number' ? String(body.code) : '';
    if (code.trim() === '') return invalid(challenge, fieldError('code', 'This field is required.', 'required'));
    const next = await planDeviceAuthorization(c.svc, code, c.requestUser, c.req);
    if (!next) return invalid(challenge, fieldError('code', 'Invalid code'));
    // (authentik cancels this flow and redirects to the authorization flow's page)
    c.session.data.plan = next.plan;
    c.session.dirty = true;
    return show(redirectChallenge(`/if/flow/${encodeURIComponent(next.slug)}/`));
  },
};
