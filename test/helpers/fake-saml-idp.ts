/// <reference path="../../src/saml/xml-encryption.d.ts" />
/**
 * A SAML 2.0 identity provider on 127.0.0.1 for the SAML source's tests, speaking the real protocol: its SSO URL
 * takes an AuthnRequest by the redirect binding (deflated, with a detached signature checked against `spCertificate`
 * when set) or the POST binding (enveloped signature checked likewise), and answers with the page an IdP answers —
 * a form posting a SAMLResponse and the RelayState to the request's ACS URL — for whoever `nextUser` names. Responses
 * are signed with xml-crypto (the assertion, the response or both) and the assertion encrypted with xml-encryption
 * when `encryptFor` names the service provider's certificate. Every request is recorded.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { encrypt } from 'xml-encryption';

export const SAMLP = 'urn:oasis:names:tc:SAML:2.0:protocol';
export const SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';

export interface SamlUser {
  nameId: string;
  format?: string;
  attributes?: Record<string, string[]>;
}

export interface ResponseOptions {
  user: SamlUser;
  acsUrl: string;
  inResponseTo?: string | null;
  audience?: string;
  sign?: { assertion?: boolean; response?: boolean };
  /** the SP's encryption certificate: the assertion is encrypted for it */
  encryptFor?: string;
  /** a non-success status with this message (no assertion) */
  refuse?: string;
  notOnOrAfter?: Date;
  issuer?: string;
  /** the Response's Destination (default: acsUrl; null: none) */
  destination?: string | null;
  /**
   * the subject's confirmations (default: one bearer confirmation naming acsUrl and inResponseTo); a method of null
   * names none, `data: false` carries no SubjectConfirmationData, a recipient or inResponseTo of null names none
   */
  confirmations?: Confirmation[];
}

export interface Confirmation {
  method?: string | null;
  recipient?: string | null;
  inResponseTo?: string | null;
  data?: boolean;
}

export interface RecordedRequest {
  binding: 'redirect' | 'post';
  xml: string;
  relayState: string | null;
  sigAlg: string | null;
  signatureValid: boolean | null;
}

const iso = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const id = () => `_${randomBytes(16).toString('hex')}`;

export class FakeSamlIdp {
  url = '';
  readonly entityId = 'https://idp.example/metadata';
  nextUser: SamlUser = { nameId: 'alice' };
  /** how the next responses are made (beyond the user) */
  respond: Omit<ResponseOptions, 'user' | 'acsUrl'> = { sign: { assertion: true } };
  /** the SP's signing certificate, to check its requests' signatures */
  spCertificate?: string;
  readonly requests: RecordedRequest[] = [];
  private server?: http.Server;

  constructor(
    readonly keyPem: string,
    readonly certificatePem: string,
  ) {}

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      // (only the SSO URL: a browser asks for /favicon.ico too)
      if (new URL(req.url ?? '/', this.url).pathname !== '/sso') return void res.writeHead(404).end();
      this.handle(req, res).catch((e: Error) => res.writeHead(400, { 'content-type': 'text/plain' }).end(e.message));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close() {
    return new Promise<void>((r) => this.server?.close(() => r()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const url = new URL(req.url ?? '/', this.url);
    let recorded: RecordedRequest;
    if (req.method === 'GET') {
      const raw = url.search.slice(1);
      const q = url.searchParams;
      const xml = inflateRawSync(Buffer.from(q.get('SAMLRequest') ?? '', 'base64')).toString('utf8');
      let valid: boolean | null = null;
      if (q.get('Signature') && this.spCertificate) {
        // the signed octets are the query as sent, up to the signature
        const signed = raw.slice(0, raw.indexOf('&Signature='));
        const hash = /sha(\d+)$/.exec(q.get('SigAlg') ?? '')?.[1] ?? '256';
        valid = verify(`sha${hash}`, Buffer.from(signed), createPublicKey(this.spCertificate), Buffer.from(q.get('Signature')!, 'base64'));
      }
      recorded = { binding: 'redirect', xml, relayState: q.get('RelayState'), sigAlg: q.get('SigAlg'), signatureValid: valid };
    } else {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const xml = Buffer.from(form.get('SAMLRequest') ?? '', 'base64').toString('utf8');
      let valid: boolean | null = null;
      if (xml.includes('Signature') && this.spCertificate) {
        const doc = new DOMParser().parseFromString(xml, 'text/xml');
        const sig = doc.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature')[0];
        const sx = new SignedXml({ publicCert: this.spCertificate, getCertFromKeyInfo: () => null });
        sx.loadSignature(sig as never);
        try {
          valid = sx.checkSignature(xml);
        } catch {
          valid = false;
        }
      }
      recorded = { binding: 'post', xml, relayState: form.get('RelayState'), sigAlg: null, signatureValid: valid };
    }
    this.requests.push(recorded);
    const request = new DOMParser().parseFromString(recorded.xml, 'text/xml').documentElement!;
    const acsUrl = request.getAttribute('AssertionConsumerServiceURL') ?? '';
    const samlResponse = await this.response({ ...this.respond, user: this.nextUser, acsUrl, inResponseTo: request.getAttribute('ID') });
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(
      `<html><body><form method="post" action="${esc(acsUrl)}"><input type="hidden" name="SAMLResponse" value="${samlResponse}">` +
        (recorded.relayState !== null ? `<input type="hidden" name="RelayState" value="${esc(recorded.relayState)}">` : '') +
        '<button type="submit">Sign in</button></form></body></html>',
    );
  }

  /** a SAMLResponse (base64), as this IdP makes them */
  async response(o: ResponseOptions): Promise<string> {
    const now = new Date();
    const until = o.notOnOrAfter ?? new Date(now.getTime() + 5 * 60_000);
    const issuer = `<saml:Issuer>${esc(o.issuer ?? this.entityId)}</saml:Issuer>`;
    const inResponseTo = o.inResponseTo ? ` InResponseTo="${esc(o.inResponseTo)}"` : '';
    const responseId = id();
    if (o.refuse !== undefined) {
      const xml =
        `<samlp:Response xmlns:samlp="${SAMLP}" xmlns:saml="${SAML}" ID="${responseId}" Version="2.0" IssueInstant="${iso(now)}"${inResponseTo}>` +
        `${issuer}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"/>` +
        `<samlp:StatusMessage>${esc(o.refuse)}</samlp:StatusMessage></samlp:Status></samlp:Response>`;
      return Buffer.from(xml).toString('base64');
    }
    const attributes = Object.entries(o.user.attributes ?? {})
      .map(
        ([name, values]) =>
          `<saml:Attribute Name="${esc(name)}">${values.map((v) => `<saml:AttributeValue>${esc(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`,
      )
      .join('');
    const assertionId = id();
    let assertion =
      `<saml:Assertion xmlns:saml="${SAML}" ID="${assertionId}" Version="2.0" IssueInstant="${iso(now)}">${issuer}` +
      `<saml:Subject><saml:NameID${o.user.format === undefined ? ' Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"' : o.user.format ? ` Format="${o.user.format}"` : ''}>${esc(o.user.nameId)}</saml:NameID>` +
      (o.confirmations ?? [{}])
        .map((c) => {
          const method = c.method === undefined ? 'urn:oasis:names:tc:SAML:2.0:cm:bearer' : c.method;
          const recipient = c.recipient === undefined ? o.acsUrl : c.recipient;
          const irt = c.inResponseTo === undefined ? (o.inResponseTo ?? null) : c.inResponseTo;
          const data =
            c.data === false
              ? ''
              : `<saml:SubjectConfirmationData NotOnOrAfter="${iso(until)}"${recipient !== null ? ` Recipient="${esc(recipient)}"` : ''}${irt !== null ? ` InResponseTo="${esc(irt)}"` : ''}/>`;
          return `<saml:SubjectConfirmation${method !== null ? ` Method="${method}"` : ''}>${data}</saml:SubjectConfirmation>`;
        })
        .join('') +
      '</saml:Subject>' +
      `<saml:Conditions NotBefore="${iso(new Date(now.getTime() - 60_000))}" NotOnOrAfter="${iso(until)}">` +
      (o.audience ? `<saml:AudienceRestriction><saml:Audience>${esc(o.audience)}</saml:Audience></saml:AudienceRestriction>` : '') +
      '</saml:Conditions>' +
      `<saml:AuthnStatement AuthnInstant="${iso(now)}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
      (attributes ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` : '') +
      '</saml:Assertion>';
    if (o.sign?.assertion) assertion = this.sign(assertion, 'Assertion');
    if (o.encryptFor) {
      const encrypted = await new Promise<string>((resolve, reject) =>
        encrypt(
          assertion,
          {
            rsa_pub: o.encryptFor!,
            pem: o.encryptFor!,
            encryptionAlgorithm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
            keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
            warnInsecureAlgorithm: false,
          },
          (err, out) => (err ? reject(err) : resolve(out!)),
        ),
      );
      assertion = `<saml:EncryptedAssertion>${encrypted}</saml:EncryptedAssertion>`;
    }
    let xml =
      `<samlp:Response xmlns:samlp="${SAMLP}" xmlns:saml="${SAML}" ID="${responseId}" Version="2.0" IssueInstant="${iso(now)}"${o.destination === null ? '' : ` Destination="${esc(o.destination ?? o.acsUrl)}"`}${inResponseTo}>` +
      `${issuer}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>${assertion}</samlp:Response>`;
    if (o.sign?.response) xml = this.sign(xml, 'Response');
    return Buffer.from(xml).toString('base64');
  }

  /** an enveloped RSA-SHA256 signature on the element (the document's root), after its Issuer */
  sign(xml: string, what: 'Assertion' | 'Response'): string {
    const sx = new SignedXml({
      privateKey: this.keyPem,
      publicCert: this.certificatePem,
      signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
      canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
    });
    sx.addReference({
      xpath: `/*[local-name(.)='${what}']`,
      transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
      digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
    });
    sx.computeSignature(xml, { prefix: 'ds', location: { reference: `/*/*[local-name(.)='Issuer']`, action: 'after' } });
    return sx.getSignedXml();
  }
}
