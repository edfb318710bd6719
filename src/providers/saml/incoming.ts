/**
 * A service provider's message as the SAML provider takes it, whichever the binding — the rules authentik's
 * AuthNRequestParser and LogoutRequestParser share: the message's parameters (the redirect binding's query with its
 * raw octets, or the POST binding's form), its XML decoded, and its signature under the provider's rule — with a
 * verification certificate a message must be signed and its signature must hold (the POST binding's enveloped one with
 * xml-crypto, what is read afterwards being what was signed; the redirect binding's detached one over the query as
 * sent); without one a signed message is refused. Also the SP's cross-site POST posted again from Keystage's own
 * origin (the browser sends it without the SameSite=Lax session cookie), and the refusal page with its event.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { pemsOf } from '../../crypto/keys.js';
import { formOf, queryOf } from '../../rest/form.js';
import { baseUrlOf } from '../../rest/http.js';
import { messageXml } from '../../saml/message.js';
import { postAgainWithCookie, RELAYED } from '../../saml/relay.js';
import { redirectSignatureHolds } from '../../saml/redirect-binding.js';
import { verifiedElement } from '../../saml/signature.js';
import { childrenOf, NS, parseXml, SamlError } from '../../saml/xml.js';
import type { Services } from '../../services.js';
import { sendBadRequestPage } from '../../ui/bad-request.js';
import type { SamlProvider } from './config.js';

export const ERROR_PAYLOAD_MISSING = 'The SAML request payload is missing.';
export const ERROR_SIGNATURE_REQUIRED_BUT_ABSENT = 'Verification Certificate configured, but request is not signed.';
export const ERROR_FAILED_TO_VERIFY = 'Failed to verify signature';

export type MessageBinding = 'redirect' | 'post';

export interface Incoming {
  SAMLRequest: string;
  RelayState?: string;
  Signature?: string;
  SigAlg?: string;
  /** the query as sent (the redirect binding's signature covers it) */
  rawQuery: string;
}

/** the message's parameters: the query (redirect), the form — or, carried back from a login, the query (POST) */
export function incomingOf(req: FastifyRequest, binding: MessageBinding): Incoming {
  const p = binding === 'post' && req.method === 'POST' ? formOf(req) : queryOf(req);
  if (p.SAMLRequest === undefined) throw new SamlError(ERROR_PAYLOAD_MISSING);
  const at = req.url.indexOf('?');
  return {
    SAMLRequest: p.SAMLRequest,
    RelayState: p.RelayState,
    Signature: p.Signature,
    SigAlg: p.SigAlg,
    rawQuery: at < 0 ? '' : req.url.slice(at + 1),
  };
}

/** the provider's verification certificate (PEM), when it has one */
export async function verifierOf(svc: Services, provider: SamlProvider): Promise<string | undefined> {
  return provider.verification_kp ? (await pemsOf(svc, provider.verification_kp))?.certificatePem : undefined;
}

/** the message's root element to read, its signature checked under the provider's rule */
export function checkedMessage(
  provider: SamlProvider,
  m: Incoming,
  binding: MessageBinding,
  verifierPem: string | undefined,
  what: 'AuthnRequest' | 'LogoutRequest',
): Element {
  const xml = messageXml(m.SAMLRequest, binding === 'redirect');
  const root = parseXml(xml);
  const signed =
    binding === 'redirect' ? m.Signature !== undefined && m.SigAlg !== undefined : childrenOf(root, NS.ds, 'Signature').length > 0;
  // no verification certificate: nothing is checked, signed or not (authentik's parsers: "no verifier configured ->
  // decode xml directly"), so a service provider that always signs works before its certificate is set
  if (!provider.verification_kp) return root;
  if (!signed) throw new SamlError(ERROR_SIGNATURE_REQUIRED_BUT_ABSENT);
  if (!verifierPem) throw new SamlError(ERROR_FAILED_TO_VERIFY);
  if (binding === 'redirect') {
    if (!redirectSignatureHolds(m.rawQuery, 'SAMLRequest', m.SigAlg!, m.Signature!, verifierPem))
      throw new SamlError(ERROR_FAILED_TO_VERIFY);
    return root;
  }
  try {
    return verifiedElement(xml, root, verifierPem, what);
  } catch {
    throw new SamlError(ERROR_FAILED_TO_VERIFY);
  }
}

/** the SP's cross-site POST, posted again once from Keystage's origin so the session cookie comes with it */
export function relayCrossSitePost(svc: Services, req: FastifyRequest, reply: FastifyReply, title: string): FastifyReply | undefined {
  if (req.method !== 'POST') return undefined;
  const form = formOf(req);
  if (form.SAMLRequest === undefined) return undefined;
  return postAgainWithCookie(req, reply, {
    to: `${baseUrlOf(req, svc.config)}${req.url.split('?')[0]}`,
    param: 'SAMLRequest',
    message: form.SAMLRequest,
    relayState: form.RelayState,
    relayed: form[RELAYED] !== undefined,
    title,
  });
}

/** authentik's refusal: a `configuration_error` event naming the provider, and the bad request page */
export async function refuse(svc: Services, req: FastifyRequest, reply: FastifyReply, provider: SamlProvider, e: SamlError) {
  await svc.events.emit('configuration_error', {
    req,
    context: {
      message: e.message,
      provider: { app: 'authentik_providers_saml', model_name: 'samlprovider', pk: provider.id, name: provider.name },
    },
  });
  return sendBadRequestPage(reply, e.message);
}
