/**
 * authentik's seven managed SAML mappings (blueprints/system/providers-saml.yaml), created at the first start with
 * authentik's managed ids, names, SAML names and texts; their texts run natively (attributes.ts) while unchanged.
 */
import type {} from '../../propertymappings/table.js';
import type { DB } from '../../db/index.js';
import { ensureManaged } from '../../propertymappings/managed.js';

export interface ManagedSamlMapping {
  managed: string;
  name: string;
  saml_name: string;
  expression: string;
}

export const SAML_UPN = "return request.user.attributes.get('upn', request.user.email)\n";
export const SAML_NAME = 'return request.user.name\n';
export const SAML_EMAIL = 'return request.user.email\n';
export const SAML_USERNAME = 'return request.user.username\n';
export const SAML_UID = 'return request.user.pk\n';
export const SAML_GROUPS = 'for group in request.user.ak_groups.all():\n    yield group.name\n';

const m = (id: string, name: string, saml_name: string, expression: string): ManagedSamlMapping => ({
  managed: `goauthentik.io/providers/saml/${id}`,
  name: `authentik default SAML Mapping: ${name}`,
  saml_name,
  expression,
});

export const MANAGED_SAML_MAPPINGS: ManagedSamlMapping[] = [
  m('upn', 'UPN', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn', SAML_UPN),
  m('name', 'Name', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name', SAML_NAME),
  m('email', 'Email', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress', SAML_EMAIL),
  m('username', 'Username', 'http://schemas.goauthentik.io/2021/02/saml/username', SAML_USERNAME),
  m('uid', 'User ID', 'http://schemas.goauthentik.io/2021/02/saml/uid', SAML_UID),
  m('groups', 'Groups', 'http://schemas.xmlsoap.org/claims/Group', SAML_GROUPS),
  m(
    'ms-windowsaccountname',
    'WindowsAccountname (Username)',
    'http://schemas.microsoft.com/ws/2008/06/identity/claims/windowsaccountname',
    SAML_USERNAME,
  ),
];

export async function ensureManagedSamlMappings(db: DB): Promise<void> {
  await ensureManaged(db, MANAGED_SAML_MAPPINGS, 'samlpropertymapping', (tx, pm_uuid, mapping) =>
    tx.insertInto('property_mapping_saml').values({ pm_uuid, saml_name: mapping.saml_name, friendly_name: null }).execute(),
  );
}
