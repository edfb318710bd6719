/**
 * The service provider side of the SAML provider's tests: @node-saml/node-saml (the SP library behind passport-saml)
 * configured against a Keystage application, and a browser that carries its requests to Keystage and reads what
 * Keystage answers (an auto-submitting form to the ACS, or a redirect to it).
 */
import assert from 'node:assert/strict';
import { inflateRawSync } from 'node:zlib';
import { SAML, type SamlConfig } from '@node-saml/node-saml';
import { Browser } from '../oauth2/browser.js';
import { call, type TestServer } from '../../helpers/server.js';

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

/** a generated RSA key pair: its pk, certificate and private key (PEM) */
export async function keyPairOf(srv: TestServer, name: string) {
  const kp = await call(srv, 'POST', '/crypto/certificatekeypairs/generate/', { common_name: name, validity_days: 30, alg: 'rsa' });
  assert.equal(kp.status, 200, JSON.stringify(kp.body));
  const cert = (await call(srv, 'GET', `/crypto/certificatekeypairs/${kp.body.pk}/view_certificate/`)).body.data as string;
  const key = (await call(srv, 'GET', `/crypto/certificatekeypairs/${kp.body.pk}/view_private_key/`)).body.data as string;
  return { pk: kp.body.pk as string, cert, key };
}

/** an application `slug` with a SAML provider made of `body`: the provider as the API answers it */
export async function samlApp(srv: TestServer, slug: string, body: Record<string, unknown>) {
  const p = await call(srv, 'POST', '/providers/saml/', { name: `saml-${slug}`, ...body });
  assert.equal(p.status, 201, JSON.stringify(p.body));
  const a = await call(srv, 'POST', '/core/applications/', { name: `SAML ${slug}`, slug, provider: p.body.pk });
  assert.equal(a.status, 201, JSON.stringify(a.body));
  return (await call(srv, 'GET', `/providers/saml/${p.body.pk}/`)).body;
}

/** a browser logged in as `username` through the default authentication flow */
export async function loggedInAs(srv: TestServer, username: string) {
  const b = new SamlBrowser(srv);
  const end = await b.login(username, '');
  assert.equal(end.component, 'xak-flow-redirect', JSON.stringify(end));
  return b;
}

/** the flows by slug, and authentik's managed SAML mappings by the last part of their managed id */
export async function flowsAndMappings(srv: TestServer) {
  const f = await call(srv, 'GET', '/flows/instances/?page_size=100');
  const flows: Record<string, string> = Object.fromEntries(f.body.results.map((x: { slug: string; pk: string }) => [x.slug, x.pk]));
  const m = await call(srv, 'GET', '/propertymappings/provider/saml/?page_size=100');
  const managed: Record<string, string> = Object.fromEntries(
    m.body.results
      .filter((x: { managed: string | null }) => x.managed)
      .map((x: { managed: string; pk: string }) => [x.managed.split('/').at(-1), x.pk]),
  );
  return { flows, managed };
}
