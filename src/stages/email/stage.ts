/**
 * The e-mail stage at run time (authentik's EmailStageView). The first time it comes up it sends the pending user a
 * link carrying a flow token (src/flows/engine/tokens.ts) that holds the plan as it stands, and shows "Email sent."
 * (`ak-stage-email`); any response re-sends and answers the same. Opening the link restores the plan in that browser;
 * the stage then asks the person to confirm (authentik's consent step that keeps mail scanners from using the link),
 * consumes the token — once, atomically — activates the user with `activate_user_on_success`, and passes.
 *
 * In a recovery flow nothing reveals whether the account exists: an identifier that matched nobody, a user without
 * an address and a send over a rate limit are all answered exactly like a send, and the message is built and sent
 * after the answer (so the time taken says nothing either).
 */
import { systemSettings } from '../../instance/system-settings/store.js';
import { randomUUID } from 'node:crypto';
import { deny, fieldError, invalid, ok, show, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import type { StageChallenge } from '../../flows/engine/challenge-types.js';
import { displayUser } from '../../flows/engine/challenge.js';
import { consumeFlowToken, createFlowToken, flowTokenLive, QS_KEY_TOKEN } from '../../flows/engine/tokens.js';
import type { UsersTable } from '../../db/types.js';
import type { DB } from '../../db/index.js';
import { parseDuration } from '../../rest/duration.js';
import type { ConsentChallenge, EmailChallenge } from './challenge.js';

import type { StageConfig } from '../types.js';
import type { emailSchema } from './schema.js';
import { renderMessage, sendMessage } from './send.js';
import { flowLink, linkBase } from '../../brands/links.js';
import { reserveEmail } from './limit.js';
import { sameText } from '../../crypto/compare.js';

export type EmailConfig = StageConfig<typeof emailSchema>;
/** `sent`: the first e-mail went out (authentik's `email_sent`); `confirm`: the token of the confirmation shown */
type State = { sent?: boolean; confirm?: string };
type Call = StageCall<EmailConfig, State>;

const USED = 'Link was already used, please request a new link.';
const CONFIRM = 'Continue to confirm this email address.';
const NO_LINK = 'E-mail links cannot be built: set KEYSTAGE_EXTERNAL_URL or give the brand its domain.';

const sentChallenge = (): StageChallenge<typeof EmailChallenge> => ({ component: 'ak-stage-email' });

async function confirmChallenge(
  c: Call,
): Promise<StageChallenge<typeof ConsentChallenge> & { pending_user: string; pending_user_avatar: string }> {
  const token = randomUUID();
  c.state.confirm = token;
  const who = displayUser(c.ctx, c.requestUser, (await systemSettings(c.svc.db)).avatars);
  return {
    component: 'ak-stage-consent',
    pending_user: who.name,
    pending_user_avatar: who.avatar,
    header_text: CONFIRM,
    permissions: [],
    additional_permissions: [],
    token,
  };
}

/** the link's lifetime (ms) */
const expiryOf = (c: Call) => parseDuration(c.config.token_expiry) ?? 30 * 60_000;

/**
 * Sends the link when there is someone to send it to and no limit is reached; the answer is the same either way.
 * Undefined when it went (or silently did not), else the outcome to answer with (a configuration error, for everyone).
 */
async function sendLink(c: Call): Promise<ReturnType<typeof deny> | undefined> {
  const base = await linkBase(c.svc, c.req);
  if (!base) {
    await c.svc.events.emit('configuration_error', {
      req: c.req,
      context: { message: NO_LINK, stage: { pk: c.config.pk, name: c.config.name } },
    });
    return deny(NO_LINK);
  }
  const user = await c.pendingUser();
  const placeholder = c.ctx.pendingUser;
  // what is counted: the address the link goes to, or what was typed when it matched nobody (the same work either way)
  const address = user ? (overrideOf(c) ?? user.email) : (placeholder?.email ?? '');
  const allowed = await reserveEmail(c.svc, c.config, address, c.clientIp);
  if (!user || !address || !allowed) return undefined;
  const plan = structuredClone(c.plan);
  const query = { ...c.query };
  delete query[QS_KEY_TOKEN];
  // built and sent after the answer: an SMTP round trip must not tell existing accounts from unknown ones
  void deliver(c, user, address, plan, base, query).catch((e: unknown) =>
    c.req.log.warn({ err: { message: (e as Error).message }, stage: c.config.name }, 'e-mail stage: sending failed'),
  );
  return undefined;
}

/**
 * the address a policy put into the plan for this stage to write to instead of the user's (authentik's
 * PLAN_CONTEXT_EMAIL_OVERRIDE, `context["flow_plan"].context["email"]`: e.g. a new address to confirm); one address
 * of text without line breaks, else none
 */
function overrideOf(c: Call): string | undefined {
  const v = c.ctx.policyData?.email;
  return typeof v === 'string' && /^[^\s@]+@[^\s@]+$/.test(v) ? v : undefined;
}

async function deliver(
  c: Call,
  user: UsersTable,
  to: string,
  plan: Call['plan'],
  base: string,
  query: Record<string, string>,
): Promise<void> {
  const expires = new Date(Date.now() + expiryOf(c));
  const token = await createFlowToken(c.svc.db, {
    flowUuid: c.flow.flow_uuid,
    userId: user.id,
    identifier: `ak-email-stage-${c.config.name}-${randomUUID()}`,
    plan,
    expires,
    revokeOnExecution: false,
  });
  const url = flowLink(base, c.flow.slug, { ...query, [QS_KEY_TOKEN]: token.key });
  const message = renderMessage(c.config.subject, c.config.template, {
    url,
    user: user.name || user.username,
    username: user.username,
    expires,
  });
  await sendMessage(c.config, c.svc.config, { name: user.name, address: to }, message);
  await c.svc.events.emit('email_sent', {
    user: { pk: user.id, username: user.username, email: user.email },
    req: c.req,
    context: { to, subject: c.config.subject, stage: { pk: c.config.pk, name: c.config.name } },
  });
}

/** `activate_user_on_success` (through `db`: the transaction that uses the link up, when there is one) */
async function activate(c: Call, user: UsersTable, db: DB = c.svc.db): Promise<void> {
  if (c.config.activate_user_on_success && !user.is_active) {
    await db.updateTable('users').set({ is_active: 1 }).where('id', '=', user.id).execute();
    // a new pending-user value: the later stages of this request read the user again (StageCall.pendingUser)
    if (c.ctx.pendingUser?.id === user.id) c.ctx.pendingUser = { ...c.ctx.pendingUser };
  }
}

export const emailRuntime: StageRuntime<EmailConfig, State> = {
  component: 'ak-stage-email',
  withUserInfo: false,
  async challenge(c) {
    const restored = c.ctx.restoredToken;
    if (restored) {
      // the person came back through the link
      const user = await c.pendingUser();
      if (!user || restored.userId !== user.id) return deny();
      if (restored.consumed) {
        await activate(c, user);
        return ok();
      }
      if (!(await flowTokenLive(c.svc.db, restored.id))) return deny(USED);
      return show(await confirmChallenge(c));
    }
    if (!c.ctx.pendingUser && !c.requestUser) return deny('No pending user.');
    if (!c.ctx.pendingUser?.id && !c.requestUser && c.flow.designation !== 'recovery') return deny('No pending user.');
    if (!c.state.sent) {
      const failed = await sendLink(c);
      if (failed) return failed;
      c.state.sent = true;
    }
    return show(sentChallenge());
  },
  async respond(c, body) {
    const restored = c.ctx.restoredToken;
    if (restored && !restored.consumed) {
      const user = await c.pendingUser();
      if (!user || restored.userId !== user.id) return deny();
      const sent = typeof body.token === 'string' ? body.token : '';
      if (!c.state.confirm || !sameText(sent, c.state.confirm)) {
        if (!(await flowTokenLive(c.svc.db, restored.id))) return deny(USED);
        return invalid(await confirmChallenge(c), fieldError('token', 'Invalid consent token, re-showing prompt'));
      }
      // the link is used up and the person activated together: a failure between them would leave an inactive
      // account whose link says it was used
      const consumed = await c.svc.db.transaction().execute(async (tx) => {
        if (!(await consumeFlowToken(tx, restored.id))) return false;
        await activate(c, user, tx);
        return true;
      });
      if (!consumed) return deny(USED);
      c.ctx.restoredToken = { ...restored, consumed: true };
      return ok();
    }
    if (restored) return emailRuntime.challenge(c);
    if (!c.ctx.pendingUser && !c.requestUser) return deny('No pending user.');
    // authentik's response is always "invalid": it re-sends, and the person keeps waiting for the link
    const failed = await sendLink(c);
    if (failed) return failed;
    c.state.sent = true;
    return invalid(sentChallenge(), fieldError('non_field_errors', 'email-sent', 'email-sent'));
  },
};
