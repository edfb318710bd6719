/**
 * Captcha stage at run time: render the provider widget's parameters, verify the token server-side; a policy may
 * put other keys into the plan (withPlanKeys).
 */

import { parseResponse } from '../../flows/engine/response.js';
import { fieldError, invalid, ok, show, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import { responseFields, type StageChallenge } from '../../flows/engine/challenge-types.js';
import { CaptchaChallengeResponseRequest, type CaptchaChallenge } from './challenge.js';
import { captchaChallengeFields, verifyCaptcha, withPlanKeys, type CaptchaConfig } from './verify.js';

const responseProps = responseFields(CaptchaChallengeResponseRequest);

const challengeOf = (c: StageCall<CaptchaConfig>): StageChallenge<typeof CaptchaChallenge> => ({
  component: 'ak-stage-captcha',
  ...captchaChallengeFields(withPlanKeys(c.config, c.ctx)),
});

export const captchaRuntime: StageRuntime<CaptchaConfig> = {
  component: 'ak-stage-captcha',
  withUserInfo: true,
  async challenge(c) {
    return show(challengeOf(c));
  },
  async respond(c, body) {
    const parsed = await parseResponse(c.svc.db, responseProps, body);
    if (!parsed.ok) return invalid(challengeOf(c), parsed.errors);
    const verdict = await verifyCaptcha(
      withPlanKeys(c.config, c.ctx),
      parsed.data.token as string,
      c.clientIp,
      c.svc.config.captchaTimeoutMs,
    );
    if (!verdict.ok) return invalid(challengeOf(c), fieldError('token', verdict.message));
    c.ctx.captcha = { response: verdict.response, stage: c.stage.uuid };
    return ok();
  },
};
