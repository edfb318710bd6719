/**
 * The browser side: /if/flow/{slug}/ (the flow interface shell), /if/user/ (who is logged in), /if/admin/ (the admin
 * interface), `/` and `/if/flow/`
 * (to the brand's authentication flow, or the user page once logged in), the bundle built by scripts/build.ts, and
 * the default logo, favicon, background and avatar images. Each page wears the request's brand (src/brands/): its
 * title, favicon, logo and custom CSS.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { bindingBroken, SESSION_COOKIE } from '../sessions/sessions.js';
import { pageCsp, scriptNonce } from '../rest/http.js';
import type { Services } from '../flows/engine/runtime.js';
import { type Brand, themeBaseOf, type UiTheme, uiThemeOf } from '../brands/match.js';
import { assetUrl, themedAssetUrls } from '../files/names.js';
import { firstChallenge, NO_SUCH_FLOW } from '../flows/engine/executor.js';
import { defaultApplicationFor, launchPath } from '../applications/launch-route.js';
import { type FooterLink, systemSettings } from '../instance/system-settings/store.js';
import { groupAttributes, isSuperuser } from '../groups/membership.js';
import type { UsersTable } from '../db/types.js';
import { hasGlobal } from '../rbac/check.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIST = path.join(root, 'dist', 'web');

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The brand's custom CSS inside <style>: a `<` becomes the CSS escape `\3c ` so the text cannot close the element
 * (`</style>`) or open markup; elsewhere in CSS a `<` is only valid inside strings, where the escape means the same.
 */
export const styleText = (css: string) => css.replace(/</g, '\\3c ');

/**
 * The flow page's first challenge as data the page reads (web/flow/executor.ts), not a script: JSON in a
 * `<script type="application/json">`, which never runs (CSP untouched), with every `<` as `\u003c` so the text cannot
 * close the element or open markup; JSON.parse reads the escape as the same character.
 */
export const FIRST_CHALLENGE_ID = 'ks-first-challenge';
export const challengeData = (challenge: Record<string, unknown>) =>
  `<script type="application/json" id="${FIRST_CHALLENGE_ID}">${JSON.stringify(challenge).replace(/</g, '\\u003c')}</script>`;

/**
 * the brand attributes a page's custom element reads (title and logo for the card's header): a logo named with
 * `%(theme)s` in its dark variant under a dark theme, else its light one
 */
const brandAttributes = (brand: Brand, theme: UiTheme = uiThemeOf(brand)) => {
  const themed = themedAssetUrls(brand.branding_logo);
  const logo = themed ? (theme === 'dark' ? themed.dark : themed.light) : assetUrl(brand.branding_logo);
  return `brand-title="${escapeHtml(brand.branding_title)}" brand-logo="${escapeHtml(logo)}"`;
};

/** the system settings' footer links under a flow (authentik's `ui_footer_links`; their hrefs are http(s) or relative) */
const footer = (links: FooterLink[]) =>
  links.length
    ? `<footer class="ks-footer"><ul>${links.map((l) => `<li><a href="${escapeHtml(l.href)}">${escapeHtml(l.name)}</a></li>`).join('')}</ul></footer>`
    : '';

/**
 * The theme of the user and admin pages for a logged-in person: their own `settings.theme.base` (authentik's user
 * settings, from the attributes of their groups and their own, which the web UI's config puts over the brand's),
 * else the brand's. The flow pages wear the brand's only, as authentik's flow interface.
 */
async function themeFor(db: Services['db'], brand: Brand, user: UsersTable | undefined): Promise<UiTheme> {
  if (!user) return uiThemeOf(brand);
  return themeBaseOf((await groupAttributes(db, user.id, user.attributes)).settings) ?? uiThemeOf(brand);
}

/** `styles`: the page's own stylesheets beside keystage.css (the user page's, which esbuild writes from its bundle) */
const shell = (
  brand: Brand,
  body: string,
  script: string,
  nonce: string,
  styles: string[] = [],
  theme = uiThemeOf(brand),
) => `<!doctype html>
<html lang="en" data-theme="${theme}">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>${escapeHtml(brand.branding_title)}</title>
<link rel="icon" href="${escapeHtml(assetUrl(brand.branding_favicon))}" />
<link rel="stylesheet" href="/static/dist/keystage.css" />
${styles.map((s) => `<link rel="stylesheet" href="/static/dist/${s}" />\n`).join('')}${brand.branding_custom_css.trim() ? `<style id="ks-brand-css">${styleText(brand.branding_custom_css)}</style>\n` : ''}<script type="module" nonce="${nonce}" src="/static/dist/${script}"></script>
</head>
<body>
${body}
<noscript>This page needs JavaScript.</noscript>
</body>
</html>`;

const BACKGROUND_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="1600" height="1000" viewBox="0 0 1600 1000"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#1e3a8a"/><stop offset="1" stop-color="#0f766e"/></linearGradient></defs><rect width="1600" height="1000" fill="url(#g)"/></svg>`;
/** Keystage's mark and wordmark: the default brand logo and favicon (authentik's icon paths); a wordmark readable on
 * the light and the dark theme's card alike */
const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="240" height="48" viewBox="0 0 240 48"><path d="M24 4 44 24 24 44 4 24Z" fill="#2563eb"/><path d="M24 14 34 24 24 34 14 24Z" fill="#fff"/><text x="56" y="33" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="26" font-weight="600" fill="#3b82f6">Keystage</text></svg>`;
const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48" viewBox="0 0 48 48"><path d="M24 4 44 24 24 44 4 24Z" fill="#2563eb"/><path d="M24 14 34 24 24 34 14 24Z" fill="#fff"/></svg>`;
const AVATAR_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="#9ca3af"/><circle cx="32" cy="24" r="12" fill="#fff"/><rect x="12" y="40" width="40" height="20" rx="10" fill="#fff"/></svg>`;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

export function mountUi(app: FastifyInstance, svc: Services) {
  const { sessions } = svc;
  const security = { 'x-frame-options': 'DENY', 'referrer-policy': 'same-origin', 'x-content-type-options': 'nosniff' };
  const queryOf = (url: string) => (url.includes('?') ? url.slice(url.indexOf('?')) : '');
  // the flow page comes with its first challenge (the executor's GET for this flow and session, run now), so the page
  // asks for nothing after loading; should that GET fail here, the page is served without it and sends it itself
  // (`ownSession`: the executor's session read brings the configuration epoch, as for the executor's own route)
  app.get('/if/flow/:slug/', { config: { ownSession: true } }, async (req, reply) => {
    const slug = (req.params as { slug: string }).slug;
    const first = await firstChallenge(svc, req, reply, slug).catch((err: unknown) => {
      req.log.warn({ err: { message: (err as Error).message } }, 'flow page: first challenge not embedded');
      return undefined;
    });
    const brand = await svc.brand(req.host);
    const nonce = scriptNonce();
    const settings = await systemSettings(svc.db);
    const continuous = settings.flags.flows_continuous_login || settings.flags.flows_refresh_others ? ' continuous-login' : '';
    const executor = `<ak-flow-executor slug="${escapeHtml(slug)}" ${brandAttributes(brand)}${continuous}></ak-flow-executor>${footer(settings.footer_links)}`;
    return reply
      .code(first === NO_SUCH_FLOW ? 404 : 200)
      .headers({ ...security, 'cache-control': 'no-store', 'content-security-policy': pageCsp(nonce) })
      .type('text/html; charset=utf-8')
      .send(shell(brand, first ? `${challengeData(first)}\n${executor}` : executor, 'flow.js', nonce));
  });
  // no flow named: the brand's authentication flow (else authentik's default), through the default-flow redirect
  app.get('/if/flow/', async (req, reply) => reply.redirect(`/flows/-/default/authentication/${queryOf(req.url)}`, 302));
  app.get('/if/user/', async (req, reply) => {
    // a session ended by its network binding sends the person to log in again, and back here afterwards (authentik)
    if (req.cookies?.[SESSION_COOKIE] && !(await sessions.user(req)) && bindingBroken(req))
      return reply.redirect(`/flows/-/default/authentication/?next=${encodeURIComponent(req.url)}`, 302);
    const brand = await svc.brand(req.host);
    const who = await sessions.user(req);
    const nonce = scriptNonce();
    const theme = await themeFor(svc.db, brand, who?.user);
    const page = (body: string, script: string, css: string[] = []) =>
      reply
        .headers({ ...security, 'cache-control': 'no-store', 'content-security-policy': pageCsp(nonce) })
        .type('text/html; charset=utf-8')
        .send(shell(brand, body, script, nonce, css, theme));
    // users who are not internal users: the brand's default application, else no user interface (authentik)
    if (who && who.user.type !== 'internal') {
      const slug = await defaultApplicationFor(svc.db, brand.default_application, who.user.type);
      if (slug) return reply.redirect(launchPath(slug), 302);
      return page('<main class="ks-page"><p role="alert">Interface can only be accessed by internal users.</p></main>', 'user.js');
    }
    return page(`<ks-user-page ${brandAttributes(brand, theme)}></ks-user-page>`, 'user.js', ['user.css']);
  });
  // the admin interface (web/admin/): a user who may not use it goes to the user interface (authentik: superusers and
  // holders of `access_admin_interface`); someone logged out gets the page, which sends them to log in and back to
  // the place in its fragment (which a redirect from here could not know)
  app.get('/if/admin/', async (req, reply) => {
    const who = await sessions.user(req);
    if (who) {
      const superuser = await isSuperuser(svc.db, who.user.id);
      if (!(await hasGlobal(svc.db, { user: who.user, superuser }, 'authentik_rbac.access_admin_interface')))
        return reply.redirect('/if/user/', 302);
    }
    const brand = await svc.brand(req.host);
    const nonce = scriptNonce();
    const theme = await themeFor(svc.db, brand, who?.user);
    return reply
      .headers({ ...security, 'cache-control': 'no-store', 'content-security-policy': pageCsp(nonce) })
      .type('text/html; charset=utf-8')
      .send(shell(brand, `<ks-admin ${brandAttributes(brand, theme)}></ks-admin>`, 'admin.js', nonce, ['admin.css'], theme));
  });
  // authentik's root redirect: the user interface for someone logged in, else the login (the brand's authentication
  // flow), which comes back to `/` and so to the user interface
  app.get('/', async (req, reply) => {
    const who = await sessions.user(req);
    if (who) {
      const slug = await defaultApplicationFor(svc.db, (await svc.brand(req.host)).default_application, who.user.type);
      return reply.redirect(slug ? launchPath(slug) : '/if/user/', 302);
    }
    return reply.redirect(`/flows/-/default/authentication/${queryOf(req.url)}`, 302);
  });
  // (pages name the brand's favicon in a <link>; a browser asking this path gets Keystage's mark)
  app.get('/favicon.ico', async (_req, reply) => reply.type('image/svg+xml').send(ICON_SVG));
  app.get('/static/dist/assets/icons/icon_left_brand.svg', async (_req, reply) =>
    reply.type('image/svg+xml').header('cache-control', 'max-age=86400').send(LOGO_SVG),
  );
  app.get('/static/dist/assets/icons/icon.png', async (_req, reply) =>
    reply.type('image/svg+xml').header('cache-control', 'max-age=86400').send(ICON_SVG),
  );
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
