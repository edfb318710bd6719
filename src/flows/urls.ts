/** Browser entry points around flows: default-flow redirects and cancel. */
import type { FastifyInstance } from 'fastify';
import type { DB } from '../db/index.js';
import type { Sessions } from '../core/sessions.js';
import { isRelative } from './challenge.js';

async function defaultFlowSlug(db: DB, designation: string): Promise<string | undefined> {
  const preferred = `default-${designation}-flow`;
  const exact = await db.selectFrom('flows').select('slug').where('slug', '=', preferred).where('designation', '=', designation).executeTakeFirst();
  if (exact) return exact.slug;
  const first = await db.selectFrom('flows').select('slug').where('designation', '=', designation).orderBy('slug').executeTakeFirst();
  return first?.slug;
}

export function mountFlowUrls(app: FastifyInstance, db: DB, sessions: Sessions) {
  for (const designation of ['authentication', 'invalidation'] as const) {
    app.get(`/flows/-/default/${designation}/`, async (req, reply) => {
      const slug = await defaultFlowSlug(db, designation);
      if (!slug) return reply.code(404).type('text/html').send('<h1>Not Found</h1>');
      const qs = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
      return reply.redirect(`/if/flow/${slug}/${qs}`, 302);
    });
  }
  app.get('/flows/-/cancel/', async (req, reply) => {
    const session = await sessions.load(req);
    if (session.key && session.data.plan) {
      session.data.plan = undefined;
      session.dirty = true;
      await sessions.save(session, req, reply);
    }
    const next = (req.query as Record<string, unknown>).next;
    return reply.redirect(typeof next === 'string' && isRelative(next) ? next : '/flows/-/default/invalidation/', 302);
  });
}
