/**
 * The confirmation before an e-mailed link is used (authentik's pickle_flow_token_for_email: an in-memory consent
 * stage first in the link's plan, "Continue to confirm this email address."). A link opened by a mail scanner shows
 * this and goes no further; the person's confirmation uses the link up (once, on every node), so it cannot be opened
 * again. A link whose plan was used up when opened (revoke on execution) passes at once.
 */
import { randomUUID } from 'node:crypto';
import { sameText } from '../../crypto/compare.js';
import { inMemoryBinding, type PlanBinding } from './plan.js';
import { deny, fieldError, invalid, ok, show, type Challenge, type StageRuntime, type StageType } from './runtime.js';
import { consumeFlowToken, flowTokenLive } from './tokens.js';

export const LINK_CONFIRM = { kind: 'emaillinkconfirmstage', stage: 'email-link-confirm' } as const;
export const linkConfirmBinding = (): PlanBinding => inMemoryBinding(LINK_CONFIRM);

const CONFIRM = 'Continue to confirm this email address.';
export const LINK_USED = 'Link was already used, please request a new link.';

interface State {
  confirm?: string;
}

const consent = (token: string): Challenge => ({
  component: 'ak-stage-consent',
  header_text: CONFIRM,
  permissions: [],
  additional_permissions: [],
  token,
});

const runtime: StageRuntime<{ name: string }, State> = {
  component: 'ak-stage-consent',
  withUserInfo: true,
  async challenge(c) {
    const restored = c.ctx.restoredToken;
    if (!restored || restored.consumed) return ok();
    if (!(await flowTokenLive(c.svc.db, restored.id))) return deny(LINK_USED);
    c.state.confirm = randomUUID();
    return show(consent(c.state.confirm));
  },
  async respond(c, body) {
    const restored = c.ctx.restoredToken;
    if (!restored || restored.consumed) return ok();
    const sent = typeof body.token === 'string' ? body.token : '';
    if (!c.state.confirm || !sameText(sent, c.state.confirm)) {
      if (!(await flowTokenLive(c.svc.db, restored.id))) return deny(LINK_USED);
      c.state.confirm = randomUUID();
      return invalid(consent(c.state.confirm), fieldError('token', 'Invalid consent token, re-showing prompt'));
    }
    if (!(await consumeFlowToken(c.svc.db, restored.id))) return deny(LINK_USED);
    c.ctx.restoredToken = { ...restored, consumed: true };
    return ok();
  },
};

export const linkConfirmStage: StageType = {
  kind: LINK_CONFIRM.kind,
  app: 'authentik_stages_consent',
  verboseName: 'Consent Stage',
  runtime,
};
