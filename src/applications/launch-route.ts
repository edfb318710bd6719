/**
 * `/application/launch/{slug}/` (authentik's RedirectToAppLaunch): an unknown application is not found; someone not
 * logged in logs in first (the login names the application) and comes back; then the application's policies decide,
 * and the person is sent to its launch URL (the application's meta_launch_url, else its provider's). And the brand's
 * `default_application` (authentik's RootRedirectView and BrandDefaultRedirectView): a logged-in user who is not an
 * internal user opening `/` or `/if/user/` is sent here.
 */
import type { FastifyInstance } from 'fastify';
import type { DB } from '../db/index.js';
import type { Services } from '../services.js';
import { applicationAccess, renderApplications } from './resource.js';
import { toLogin } from '../flows/browser/to-login.js';
import type { ApplicationsTable } from './table.js';

/** the slug of the brand's default application, for a user of another type than internal (none otherwise) */
export async function defaultApplicationFor(db: DB, defaultApplication: string | null, userType: string): Promise<string | undefined> {
  if (!defaultApplication || userType === 'internal') return undefined;
  const app = await db.selectFrom('applications').select('slug').where('pbm_uuid', '=', defaultApplication).executeTakeFirst();
  return app?.slug;
}

export const launchPath = (slug: string) => `/application/launch/${encodeURIComponent(slug)}/`;

const page = (status: number, message: string) => ({
  status,
  body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${status === 404 ? 'Not found' : 'Access denied'}</title></head><body><main><h1>${status === 404 ? 'Not found' : 'Access denied'}</h1><p>${message}</p></main></body></html>`,
});

export function mountApplicationLaunch(app: FastifyInstance, svc: Services) {
  app.get('/application/launch/:slug/', async (req, reply) => {
    const slug = (req.params as { slug: string }).slug;
    const row = (await svc.db.selectFrom('applications').selectAll().where('slug', '=', slug).executeTakeFirst()) as
      | ApplicationsTable
      | undefined;
    const send = (p: { status: number; body: string }) =>
      reply.code(p.status).headers({ 'cache-control': 'no-store' }).type('text/html; charset=utf-8').send(p.body);
    if (!row) return send(page(404, 'No application has this address.'));
    const who = await svc.sessions.user(req);
    if (!who) return toLogin(svc, req, reply, { application: row, next: launchPath(slug) });
    const verdict = await applicationAccess(svc, { ...row, pk: row.pbm_uuid }, who.user, req);
    if (!verdict.passing) return send(page(403, 'You do not have access to this application.'));
    const [rendered] = await renderApplications(svc.db, [{ ...row, pk: row.pbm_uuid }], who.user);
    const url = rendered?.launch_url;
    if (typeof url !== 'string' || !/^(https?:\/\/|\/(?!\/))/i.test(url)) return send(page(404, 'This application has no launch URL.'));
    return reply.redirect(url, 302);
  });
}
