/** authentik's SAMLSourceSerializer fields (beyond the base Source's), with authentik's model defaults. */
import { DIGEST_ALGORITHMS, NAME_ID, SIGNATURE_ALGORITHMS } from '../../saml/constants.js';
import { Type } from '@sinclair/typebox';
import { S, type Props } from '../../rest/schema.js';
import { groupMatchingModeProp } from '../schema.js';

const keypair = (title: string, description: string) =>
  S.fk({ table: 'crypto_certificatekeypairs', column: 'kp_uuid' }, { default: null, title, description });

export const BINDING_TYPES = ['REDIRECT', 'POST', 'POST_AUTO'] as const;
export type BindingType = (typeof BINDING_TYPES)[number];

export const samlSourceProps: Props = {
  group_matching_mode: groupMatchingModeProp,
  pre_authentication_flow: S.uuid({ 'x-ref': { table: 'flows', column: 'flow_uuid' }, description: 'Flow used before authentication.' }),
  issuer_override: S.text({ default: '', description: 'Also known as Entity ID. Defaults to the Metadata URL.' }),
  url_issuer: S.ro(
    Type.String({ description: 'Get the resolved Issuer, falling back to the metadata URL when unset', 'x-computed': true }),
  ),
  sso_url: S.str({ format: 'uri', maxLength: 200, description: 'URL that the initial Login request is sent to.' }),
  slo_url: S.nullable(
    S.text({ format: 'uri', maxLength: 200, default: null, description: 'Optional URL if your IDP supports Single-Logout.' }),
  ),
  allow_idp_initiated: S.bool({
    default: false,
    description:
      'Allows authentication flows initiated by the IdP. This can be a security risk, as no validation of the request ID is done.',
  }),
  force_authn: S.bool({ default: false, description: 'When enabled, the IdP will re-authenticate the user even if a session exists.' }),
  name_id_policy: S.enumOf(Object.values(NAME_ID), {
    default: NAME_ID.persistent,
    description: 'NameID Policy sent to the IdP. Can be unset, in which case no Policy is sent.',
  }),
  binding_type: S.enumOf(BINDING_TYPES, { default: 'REDIRECT' }),
  verification_kp: keypair(
    'Verification Certificate',
    "When selected, incoming assertion's Signatures will be validated against this certificate. To allow unsigned Requests, leave on default.",
  ),
  signing_kp: keypair('Signing Keypair', 'Keypair used to sign outgoing Responses going to the Identity Provider.'),
  digest_algorithm: S.enumOf(DIGEST_ALGORITHMS, { default: 'http://www.w3.org/2001/04/xmlenc#sha256' }),
  signature_algorithm: S.enumOf(SIGNATURE_ALGORITHMS, { default: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256' }),
  temporary_user_delete_after: S.duration({
    default: 'days=1',
    title: 'Delete temporary users after',
    description:
      "Time offset when temporary users should be deleted. This only applies if your IDP uses the NameID Format 'transient', and the user doesn't log out manually. (Format: hours=1;minutes=2;seconds=3).",
  }),
  encryption_kp: keypair(
    'Encryption Keypair',
    'When selected, incoming assertions are encrypted by the IdP using the public key of the encryption keypair. The assertion is decrypted by the SP using the the private key.',
  ),
  signed_assertion: S.bool({ default: true }),
  signed_response: S.bool({ default: false }),
};

/** the columns a client writes */
export const SAML_COLUMNS = Object.keys(samlSourceProps).filter((k) => k !== 'url_issuer');
