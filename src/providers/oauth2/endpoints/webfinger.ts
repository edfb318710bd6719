/**
 * /.well-known/webfinger (RFC 7033; authentik's WebFingerView with OAuth2Provider.webfinger): when the brand's
 * default application is signed into through an OAuth2 provider, its issuer (the application's provider root,
 * /application/o/<slug>/) for any resource asked about; else an empty object. Anyone may read it, from anywhere.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../../services.js';
import { oauth2ProviderByAppSlug } from '../config.js';
import { originOf } from './http.js';

export async function webfingerEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  reply.header('access-control-allow-origin', '*').type('application/jrd+json');
  const brand = await svc.brand(req.host);
  const app = brand.default_application
    ? await svc.db.selectFrom('applications').select('slug').where('pbm_uuid', '=', brand.default_application).executeTakeFirst()
    : undefined;
  const provider = app ? await oauth2ProviderByAppSlug(svc, app.slug) : undefined;
  if (!app || !provider) return reply.send({});
  const resource = (req.query as Record<string, unknown>).resource;
  return reply.send({
    subject: typeof resource === 'string' ? resource : null,
    links: [
      {
        rel: 'http://openid.net/specs/connect/1.0/issuer',
        href: `${originOf(req, svc.config)}/application/o/${encodeURIComponent(app.slug)}/`,
      },
    ],
  });
}
