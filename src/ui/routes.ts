/**
 * The browser side: /if/flow/{slug}/ (the flow interface shell), /if/user/ (who is logged in), the bundle built by
 * scripts/build.ts, and the default background/avatar images.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { bindingBroken, SESSION_COOKIE } from '../sessions/sessions.js';
import { pageCsp, scriptNonce } from '../rest/http.js';
import type { Services } from '../services.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIST = path.join(root, 'dist', 'web');

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const shell = (title: string, body: string, script: string, nonce: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/static/dist/keystage.css" />
<script type="module" nonce="${nonce}" src="/static/dist/${script}"></script>
</head>
<body>
${body}
<noscript>This page needs JavaScript.</noscript>
</body>
</html>`;

const BACKGROUND_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="1600" height="1000" viewBox="0 0 1600 1000"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#1e3a8a"/><stop offset="1" stop-color="#0f766e"/></linearGradient></defs><rect width="1600" height="1000" fill="url(#g)"/></svg>`;
const AVATAR_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="#9ca3af"/><circle cx="32" cy="24" r="12" fill="#fff"/><rect x="12" y="40" width="40" height="20" rx="10" fill="#fff"/></svg>`;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

export function mountUi(app: FastifyInstance, svc: Services) {
  const { sessions } = svc;
  const security = { 'x-frame-options': 'DENY', 'referrer-policy': 'same-origin', 'x-content-type-options': 'nosniff' };
  app.get('/if/flow/:slug/', async (req, reply) => {
    const slug = (req.params as { slug: string }).slug;
    const nonce = scriptNonce();
    return reply
      .headers({ ...security, 'cache-control': 'no-store', 'content-security-policy': pageCsp(nonce) })
      .type('text/html; charset=utf-8')
      .send(shell('Keystage', `<ak-flow-executor slug="${escapeHtml(slug)}"></ak-flow-executor>`, 'flow.js', nonce));
  });
  app.get('/if/user/', async (req, reply) => {
    // a session ended by its network binding sends the person to log in again, and back here afterwards (authentik)
    if (req.cookies?.[SESSION_COOKIE] && !(await sessions.user(req)) && bindingBroken(req))
      return reply.redirect(`/flows/-/default/authentication/?next=${encodeURIComponent(req.url)}`, 302);
    const nonce = scriptNonce();
    return reply
      .headers({ ...security, 'cache-control': 'no-store', 'content-security-policy': pageCsp(nonce) })
      .type('text/html; charset=utf-8')
      .send(shell('Keystage', '<ks-user-page></ks-user-page>', 'user.js', nonce));
  });
  app.get('/', async (_req, reply) => reply.redirect('/if/user/', 302));
  app.get('/favicon.ico', async (_req, reply) => reply.type('image/svg+xml').send(AVATAR_SVG));
  app.get('/static/dist/:file', async (req, reply) => {
    const file = (req.params as { file: string }).file;
    if (!/^[\w.-]+$/.test(file)) return reply.callNotFound();
    const full = path.join(DIST, file);
    if (!fs.existsSync(full)) return reply.callNotFound();
    return reply
      .type(TYPES[path.extname(file)] ?? 'application/octet-stream')
      .header('cache-control', 'no-cache')
      .send(fs.createReadStream(full));
  });
  app.get('/static/dist/assets/images/flow_background.jpg', async (_req, reply) =>
    reply.type('image/svg+xml').header('cache-control', 'max-age=86400').send(BACKGROUND_SVG),
  );
  app.get('/static/dist/assets/images/user_default.png', async (_req, reply) =>
    reply.type('image/svg+xml').header('cache-control', 'max-age=86400').send(AVATAR_SVG),
  );
}
