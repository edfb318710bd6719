/**
 * `POST /stages/invitation/invitations/{invite_uuid}/send_email/` (authentik's InvitationViewSet.send_email): the
 * invitation's link — `/if/flow/<its flow>/?itoken=<pk>` — mailed to each address (with `cc_addresses` and
 * `bcc_addresses`) through the global SMTP settings, subject "You have been invited to <host>". Unlike authentik,
 * the link's host is KEYSTAGE_EXTERNAL_URL or the brand's domain, never the request's Host header (src/brands/links.ts),
 * and refusals are field errors (authentik answers `{"error": …}`).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ValidationError } from '../../rest/errors.js';
import { EMAIL_RE, validateBody } from '../../rest/validate.js';
import { S, type Props } from '../../rest/schema.js';
import type { Services } from '../../flows/engine/runtime.js';
import { flowLink, linkBase } from '../../brands/links.js';
import { sendMail } from '../../mail/smtp.js';

const TEMPLATES = new Set(['invitation', 'email/invitation.html']);
const bodyProps: Props = {
  email_addresses: S.list(Type.Unknown()),
  cc_addresses: S.list(Type.Unknown(), { 'x-optional': true }),
  bcc_addresses: S.list(Type.Unknown(), { 'x-optional': true }),
  template: S.str({ 'x-optional': true }),
};

function checked(field: string, list: unknown): string[] {
  const out = (Array.isArray(list) ? list : []).map((a) => (typeof a === 'string' ? a.trim() : ''));
  if (out.some((a) => !EMAIL_RE.test(a))) throw ValidationError.field(field, 'Enter a valid email address.');
  return out;
}

export async function sendInvitationEmail(
  svc: Services,
  req: FastifyRequest,
  reply: FastifyReply,
  invitation: { invite_uuid: string; flow: string | null; expires: string | null },
) {
  const data = await validateBody(bodyProps, req.body, { mode: 'create', db: svc.db });
  const to = checked('email_addresses', data.email_addresses);
  if (!to.length) throw ValidationError.field('email_addresses', 'No email addresses provided');
  const cc = checked('cc_addresses', data.cc_addresses);
  const bcc = checked('bcc_addresses', data.bcc_addresses);
  // authentik's default template is the only one Keystage has (its own wording)
  if (data.template != null && data.template !== '' && !TEMPLATES.has(data.template as string))
    throw ValidationError.field('template', 'Unknown template.');
  const flow = invitation.flow
    ? await svc.db.selectFrom('flows').select('slug').where('flow_uuid', '=', invitation.flow).executeTakeFirst()
    : undefined;
  if (!flow) throw ValidationError.nonField('Invitation has no associated flow');
  const base = await linkBase(svc, req);
  if (!base) throw ValidationError.nonField('E-mail links cannot be built: set KEYSTAGE_EXTERNAL_URL or give the brand its domain.');
  const url = flowLink(base, flow.slug, { itoken: invitation.invite_uuid });
  const host = new URL(base).host;
  const expires = invitation.expires ? `\n\nThe invitation expires on ${new Date(invitation.expires).toUTCString()}.` : '';
  const settings = {
    use_global_settings: true,
    host: '',
    port: 0,
    username: '',
    password: '',
    use_tls: false,
    use_ssl: false,
    timeout: 10,
    from_address: '',
  };
  for (const address of to) {
    try {
      await sendMail(settings, svc.config, {
        to: address,
        ...(cc.length ? { cc } : {}),
        ...(bcc.length ? { bcc } : {}),
        subject: `You have been invited to ${host}`,
        text: `You have been invited to ${host}. Follow this link to accept the invitation:\n\n${url}${expires}\n`,
      });
    } catch (e) {
      req.log.warn({ err: { message: (e as Error).message } }, 'invitation e-mail: sending failed');
      throw ValidationError.field('email_addresses', `Failed to send the e-mail to ${address}.`);
    }
    await svc.events.emit('email_sent', {
      user: req.caller ? { pk: req.caller.user.id, username: req.caller.user.username, email: req.caller.user.email } : undefined,
      req,
      context: { to: address, subject: `You have been invited to ${host}`, invitation: invitation.invite_uuid },
    });
  }
  reply.code(204);
  return reply.send();
}
