/**
 * A SAML message the other side's site posts to Keystage arrives without Keystage's session cookie (SameSite=Lax):
 * posted again once from Keystage's own origin, it comes with it — the SAML source's ACS (the IdP's Response) and the
 * SAML provider's SSO and SLO endpoints (the service provider's requests).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SESSION_COOKIE } from '../sessions/sessions.js';
import { sendFormPost } from '../ui/form-post.js';

/** the field marking a message posted again from Keystage's own origin */
export const RELAYED = 'ks_relayed';

/** the page posting the message again to `to`, when it came by POST without the session cookie and not relayed yet */
export function postAgainWithCookie(
  req: FastifyRequest,
  reply: FastifyReply,
  o: {
    to: string;
    param: 'SAMLRequest' | 'SAMLResponse';
    message: string;
    relayState: string | null | undefined;
    relayed: boolean;
    title: string;
  },
): FastifyReply | undefined {
  if (req.method !== 'POST' || req.cookies?.[SESSION_COOKIE] || o.relayed) return undefined;
  const again: Record<string, string> = { [o.param]: o.message, [RELAYED]: '1' };
  if (o.relayState !== null && o.relayState !== undefined) again.RelayState = o.relayState;
  return sendFormPost(reply, o.to, again, o.title);
}
