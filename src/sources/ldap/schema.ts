/** authentik's LDAPSourceSerializer fields (beyond the base Source's), with authentik's model defaults. */
import { Type } from '@sinclair/typebox';
import { S, type Props } from '../../rest/schema.js';

const keypair = (description: string) => S.fk({ table: 'crypto_certificatekeypairs', column: 'kp_uuid' }, { default: null, description });

export const SYNC_OUTGOING_TRIGGER_MODES = ['none', 'immediate', 'deferred_end'] as const;

export const ldapSourceProps: Props = {
  server_uri: S.str({ format: 'uri', description: 'One or more ldap:// or ldaps:// URIs, comma-separated.' }),
  peer_certificate: keypair("Optionally verify the LDAP Server's Certificate against the CA Chain in this keypair."),
  client_certificate: keypair("Client certificate to authenticate against the LDAP Server's Certificate."),
  bind_cn: S.text({ default: '' }),
  bind_password: S.wo(S.text({ default: '', 'x-no-trim': true, 'x-optional': true })),
  start_tls: S.bool({ default: false, title: 'Enable Start TLS' }),
  sni: S.bool({ default: false, title: 'Use Server URI for SNI verification' }),
  base_dn: S.str(),
  additional_user_dn: S.text({ default: '', title: 'Addition User DN', description: 'Prepended to Base DN for User-queries.' }),
  additional_group_dn: S.text({ default: '', title: 'Addition Group DN', description: 'Prepended to Base DN for Group-queries.' }),
  user_object_filter: S.str({ default: '(objectClass=person)', description: 'Consider Objects matching this filter to be Users.' }),
  group_object_filter: S.str({ default: '(objectClass=group)', description: 'Consider Objects matching this filter to be Groups.' }),
  group_membership_field: S.str({ default: 'member', description: 'Field which contains members of a group.' }),
  user_membership_attribute: S.str({
    default: 'distinguishedName',
    description: 'Attribute which matches the value of `group_membership_field`.',
  }),
  object_uniqueness_field: S.str({ default: 'objectSid', description: 'Field which contains a unique Identifier.' }),
  password_login_update_internal_password: S.bool({
    default: false,
    description: 'Update internal authentik password when login succeeds with LDAP',
  }),
  sync_users: S.bool({ default: true }),
  sync_users_password: S.bool({
    default: true,
    description: 'When a user changes their password, sync it back to LDAP. This can only be enabled on a single LDAP source.',
  }),
  sync_groups: S.bool({ default: true }),
  sync_parent_group: S.fk({ table: 'groups', column: 'group_uuid' }, { default: null }),
  connectivity: S.ro(
    Type.Unsafe<Record<string, Record<string, string>> | null>({
      type: 'object',
      additionalProperties: { type: 'object', additionalProperties: { type: 'string' } },
      nullable: true,
      description: 'Get cached source connectivity',
      'x-computed': true,
    }),
  ),
  lookup_groups_from_user: S.bool({
    default: false,
    description:
      'Lookup group membership based on a user attribute instead of a group attribute. This allows nested group resolution on systems like FreeIPA and Active Directory',
  }),
  delete_not_found_objects: S.bool({
    default: false,
    description: 'Delete authentik users and groups which were previously supplied by this source, but are now missing from it.',
  }),
  sync_outgoing_trigger_mode: S.enumOf(SYNC_OUTGOING_TRIGGER_MODES, {
    default: 'deferred_end',
    description: 'When to trigger sync for outgoing providers',
  }),
  sync_group_hierarchy: S.bool({ default: false, description: 'Sync group parentage/hierarchy from LDAP directories.' }),
};

/** the columns a client writes */
export const LDAP_COLUMNS = [
  'server_uri',
  'peer_certificate',
  'client_certificate',
  'bind_cn',
  'bind_password',
  'start_tls',
  'sni',
  'base_dn',
  'additional_user_dn',
  'additional_group_dn',
  'user_object_filter',
  'group_object_filter',
  'group_membership_field',
  'user_membership_attribute',
  'object_uniqueness_field',
  'password_login_update_internal_password',
  'sync_users',
  'sync_users_password',
  'sync_groups',
  'sync_parent_group',
  'lookup_groups_from_user',
  'delete_not_found_objects',
  'sync_outgoing_trigger_mode',
  'sync_group_hierarchy',
] as const;
