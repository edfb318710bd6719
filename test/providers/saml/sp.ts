/**
 * The service provider side of the SAML provider's tests: @node-saml/node-saml (the SP library behind passport-saml)
 * configured against a Keystage application, and a browser that carries its requests to Keystage and reads what
 * Keystage answers (an auto-submitting form to the ACS, or a redirect to it).
 */
import { inflateRawSync } from 'node:zlib';
import { SAML, type SamlConfig } from '@node-saml/node-saml';
import { Browser } from '../oauth2/browser.js';
import type { TestServer } from '../../helpers/server.js';

export const ACS = 'http://127.0.0.1:9/saml/acs';
export const SP_ENTITY = 'http://127.0.0.1:9/saml/metadata';

export function serviceProvider(opts: Partial<SamlConfig> & { idpCert: string; entryPoint: string }): SAML {
  return new SAML({
    callbackUrl: ACS,
    issuer: SP_ENTITY,
    audience: SP_ENTITY,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    identifierFormat: null,
    acceptedClockSkewMs: 5_000,
    disableRequestedAuthnContext: true,
    ...opts,
  });
}

const decodeEntities = (s: string) =>
  s
    .replace(/&#(\d+);/g, (_m, n) => String.fromCharCode(Number(n)))
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>');

/** the action and inputs of an auto-submitting form page */
export function formOf(html: string): { action: string; fields: Record<string, string> } | undefined {
  const action = /<form method="post" action="([^"]*)"/.exec(html)?.[1];
  if (action === undefined) return undefined;
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g))
    fields[decodeEntities(m[1]!)] = decodeEntities(m[2]!);
  return { action: decodeEntities(action), fields };
}

/** what Keystage sent the SP: the form's fields (POST binding) or the redirect's query (redirect binding) */
export interface Answer {
  status: number;
  text: string;
  form?: { action: string; fields: Record<string, string> };
  redirect?: URL;
}

export class SamlBrowser extends Browser {
  constructor(readonly server: TestServer) {
    super(server);
  }

  /** a GET (or a form POST) to Keystage, Keystage's redirects followed, to the answer */
  async send(url: string, post?: Record<string, string>): Promise<Answer> {
    let r: { status: number; location?: string; text: string };
    if (post) {
      const res = await fetch(new URL(url, this.server.url), {
        method: 'POST',
        headers: this.jar.headers({ 'content-type': 'application/x-www-form-urlencoded' }),
        body: new URLSearchParams(post),
        redirect: 'manual',
      });
      this.jar.keep(res);
      const loc = res.headers.get('location');
      const to = loc ? new URL(loc, url) : undefined;
      if (to && to.origin !== this.server.url) return { status: 302, text: '', redirect: to };
      r = to ? await this.open(to.toString()) : { status: res.status, text: await res.text() };
    } else r = await this.open(url);
    if (r.location) return { status: 302, text: '', redirect: new URL(r.location) };
    return { status: r.status, text: r.text, form: formOf(r.text) };
  }

  /** log in through the default authentication flow with `next`, then open where it leads */
  async loginAndContinue(username: string, next: string): Promise<Answer> {
    const end = await this.login(username, `next=${encodeURIComponent(next)}`);
    if (end.component !== 'xak-flow-redirect') throw new Error(`login ended with ${JSON.stringify(end)}`);
    const r = await this.open(end.to);
    if (r.location) return { status: 302, text: '', redirect: new URL(r.location) };
    return { status: r.status, text: r.text, form: formOf(r.text) };
  }
}

/** the SAMLResponse of a redirect-binding answer, inflated */
export const inflated = (b64: string) => inflateRawSync(Buffer.from(b64, 'base64')).toString('utf8');
