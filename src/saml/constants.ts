/** SAML 2.0 names both sides use (the SAML source and the SAML provider): NameID formats, bindings, algorithms. */
import { randomBytes } from 'node:crypto';

export const NAME_ID = {
  email: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  x509: 'urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName',
  windows: 'urn:oasis:names:tc:SAML:2.0:nameid-format:WindowsDomainQualifiedName',
  transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
} as const;

export const BINDING_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
export const BINDING_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

export const DIGEST_ALGORITHMS = [
  'http://www.w3.org/2000/09/xmldsig#sha1',
  'http://www.w3.org/2001/04/xmlenc#sha256',
  'http://www.w3.org/2001/04/xmldsig-more#sha384',
  'http://www.w3.org/2001/04/xmlenc#sha512',
] as const;

export const SIGNATURE_ALGORITHMS = [
  'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1',
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384',
  'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512',
  'http://www.w3.org/2000/09/xmldsig#dsa-sha1',
] as const;

export const STATUS_SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

/** authentik's get_random_id: an XML ID (an NCName, so it starts with a letter or `_`) */
export const randomId = () => `_${randomBytes(20).toString('hex')}`;

/** SAML's time format as authentik writes it (seconds, `Z`) */
export const samlTime = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');
