/** The parts every challenge shares: flow_info, the pending user display, redirects, access denied, flow errors. */
import type { FlowsTable, UsersTable } from '../../db/types.js';
import { avatarOf, usesAttributes } from '../../users/avatar.js';
import type { FlowContext } from './context.js';
import { backgroundUrl } from '../background.js';
import { themedAssetUrls } from '../../files/names.js';
import type { ContextualFlowInfo, FlowErrorChallenge, RedirectChallenge, StageChallenge } from './challenge-types.js';

export const DEFAULT_AVATAR = '/static/dist/assets/images/user_default.png';

/**
 * the person a challenge shows: what was typed (drawn from the typed text only: whether it names someone is not
 * shown), else the pending or logged-in user, by the system settings' avatar modes (`avatars`; a pending user's
 * attributes are not in the plan, so `attributes.<key>` modes apply to a logged-in user only)
 */
export function displayUser(
  ctx: FlowContext | undefined,
  requestUser: UsersTable | undefined,
  avatars: string,
): { name: string; avatar: string } {
  if (ctx?.pendingUserIdentifier)
    return { name: ctx.pendingUserIdentifier, avatar: avatarOf({ name: '', username: ctx.pendingUserIdentifier }, avatars) };
  const pending = ctx?.pendingUser;
  if (pending && pending.id !== requestUser?.id) return { name: pending.username, avatar: avatarOf(pending, avatars) };
  const u = pending ?? requestUser;
  if (u)
    return {
      name: u.username,
      // (the attributes read only for a mode that uses them)
      avatar: avatarOf(
        { ...u, attributes: requestUser && usesAttributes(avatars) ? JSON.parse(requestUser.attributes || '{}') : undefined },
        avatars,
      ),
    };
  return { name: '', avatar: DEFAULT_AVATAR };
}

/**
 * authentik formats a flow title with Python's `title % {"app": …, "user": …}`: `%(app)s`, `%(user)s` and `%%` are
 * replaced; anything else that Python would refuse (an unknown key, another conversion, a lone `%`) leaves the raw title.
 */
export function formatTitle(raw: string, values: Record<string, string>): string {
  let failed = false;
  const out = raw.replace(/%(\(([^)]*)\))?([\s\S]?)/g, (_m, paren: string | undefined, key: string | undefined, conv: string) => {
    if (!paren && conv === '%') return '%';
    if (paren && conv === 's' && key !== undefined && Object.hasOwn(values, key)) return values[key]!;
    failed = true;
    return '';
  });
  return failed ? raw : out;
}

/**
 * authentik's ContextualFlowInfo. A flow without a background of its own shows the request's brand's default flow
 * background (authentik's `Flow.background_url(request)`); `brandBackground` is that, as a URL.
 */
export function flowInfo(
  flow: FlowsTable,
  query: Record<string, string>,
  user: string,
  brandBackground?: string,
  app = '',
): ContextualFlowInfo {
  // %(app)s: the name of the application the plan is about (authentik's plan context `application`), else empty
  const title = formatTitle(flow.title, { app, user });
  const next = query.next;
  return {
    title,
    background: flow.background.trim() === '' && brandBackground ? brandBackground : backgroundUrl(flow.background),
    background_themed_urls: themedAssetUrls(flow.background),
    cancel_url: next ? `/flows/-/cancel/?next=${encodeURIComponent(next)}` : '/flows/-/cancel/',
    // the column holds one of the choices the flow API validates
    layout: flow.layout as ContextualFlowInfo['layout'],
  };
}

export const redirectChallenge = (to: string, final = false): StageChallenge<typeof RedirectChallenge> => ({
  component: 'xak-flow-redirect',
  to,
  ...(final ? { final_redirect: true } : {}),
});

export const flowError = (requestId: string, error?: string): StageChallenge<typeof FlowErrorChallenge> => ({
  component: 'ak-stage-flow-error',
  request_id: requestId,
  ...(error ? { error } : {}),
});

/**
 * a relative URL (no scheme, no host, not protocol-relative). Control characters are refused outright: browsers
 * drop tabs and newlines inside URLs, so "/<TAB>/evil.example" would navigate to //evil.example.
 */
export function isRelative(url: string): boolean {
  if (!url.startsWith('/') || url.startsWith('//') || url.startsWith('/\\')) return false;
  return !/[\x00-\x1f\x7f]/.test(url);
}
