/**
 * A page whose form posts values to another URL (authentik's `ak-stage-autosubmit`): the OAuth2 provider's
 * `form_post` responses, the SAML source's POST-binding requests and its ACS relay. Submitted by a script allowed by
 * its nonce, or — `auto: false`, or without scripts — by the person's click on the button.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';

const escapeAttr = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function sendFormPost(
  reply: FastifyReply,
  url: string,
  attrs: Record<string, string>,
  title: string,
  /** `framedBySelf`: the page may load in Keystage's own frames (a front-channel logout's iframe), never in others' */
  opts: { auto?: boolean; button?: string; framedBySelf?: boolean } = {},
) {
  const auto = opts.auto ?? true;
  const inputs = Object.entries(attrs)
    .map(([k, v]) => `<input type="hidden" name="${escapeAttr(k)}" value="${escapeAttr(v)}">`)
    .join('');
  const nonce = randomBytes(16).toString('base64');
  // the form may post to the target's origin only (an http(s) origin; other schemes get no form-action)
  let origin = 'null';
  try {
    origin = new URL(url).origin;
  } catch {}
  const formAction = /^https?:\/\/[\w.:[\]-]+$/.test(origin) ? ` form-action ${origin};` : '';
  const button = `<button type="submit">${escapeAttr(opts.button ?? 'Continue')}</button>`;
  return reply
    .code(200)
    .header(
      'content-security-policy',
      `default-src 'none'; script-src 'nonce-${nonce}';${formAction} base-uri 'none'; frame-ancestors ${opts.framedBySelf ? "'self'" : "'none'"}`,
    )
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(
      `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeAttr(title)}</title></head><body>` +
        `<form method="post" action="${escapeAttr(url)}">${inputs}${auto ? `<noscript>${button}</noscript>` : `<h1>${escapeAttr(title)}</h1>${button}`}</form>` +
        (auto ? `<script nonce="${nonce}">document.forms[0].submit()</script>` : '') +
        '</body></html>',
    );
}
