/**
 * authentik's six managed scope mappings (blueprints/system/providers-oauth2.yaml): created at the first start with
 * authentik's managed ids, names and expression texts, so authentik's documentation applies to Keystage. Their texts
 * run natively (native.ts) as long as an admin leaves them as they are.
 */
import type {} from './table.js';
import { randomUUID } from 'node:crypto';
import type { DB } from '../db/index.js';
import type { Tx } from '../rest/resource.js';

export interface ManagedScopeMapping {
  managed: string;
  name: string;
  scope_name: string;
  description: string;
  expression: string;
}

export const SCOPE_OPENID = `# This scope is required by the OpenID-spec, and must as such exist in authentik.
# The scope by itself does not grant any information
return {}
`;

export const SCOPE_EMAIL = `return {
    "email": request.user.email,
    "email_verified": False
}
`;

export const SCOPE_PROFILE = `return {
    # Because authentik only saves the user's full name, and has no concept of first and last names,
    # the full name is used as given name.
    # You can override this behaviour in custom mappings, i.e. \`request.user.name.split(" ")\`
    "name": request.user.name,
    "given_name": request.user.name,
    "preferred_username": request.user.username,
    "nickname": request.user.username,
    "groups": [group.name for group in request.user.ak_groups.all()],
}
`;

export const SCOPE_ENTITLEMENTS = `entitlements = [entitlement.name for entitlement in request.user.app_entitlements(provider.application)]
return {
    "entitlements": entitlements,
    "roles": entitlements,
}
`;

export const SCOPE_OFFLINE_ACCESS = `# This scope grants the application a refresh token that can be used to refresh user data
# and let the application access authentik without the users interaction
return {}
`;

export const SCOPE_AUTHENTIK_API = `# This scope grants the application the ability to access the authentik API
# on behalf of the authorizing user
return {}
`;

export const SCOPE_AUTHENTIK_DCR = `# This scope grants the application the ability to register OAuth2 clients
# (dynamic client registration) on behalf of the authorizing user
return {}
`;

export const MANAGED_SCOPE_MAPPINGS: ManagedScopeMapping[] = [
  {
    managed: 'goauthentik.io/providers/oauth2/scope-openid',
    name: "authentik default OAuth Mapping: OpenID 'openid'",
    scope_name: 'openid',
    description: '',
    expression: SCOPE_OPENID,
  },
  {
    managed: 'goauthentik.io/providers/oauth2/scope-email',
    name: "authentik default OAuth Mapping: OpenID 'email'",
    scope_name: 'email',
    description: 'Email address',
    expression: SCOPE_EMAIL,
  },
  {
    managed: 'goauthentik.io/providers/oauth2/scope-profile',
    name: "authentik default OAuth Mapping: OpenID 'profile'",
    scope_name: 'profile',
    description: 'General Profile Information',
    expression: SCOPE_PROFILE,
  },
  {
    managed: 'goauthentik.io/providers/oauth2/scope-entitlements',
    name: 'authentik default OAuth Mapping: Application Entitlements',
    scope_name: 'entitlements',
    description: 'Application entitlements',
    expression: SCOPE_ENTITLEMENTS,
  },
  {
    managed: 'goauthentik.io/providers/oauth2/scope-offline_access',
    name: "authentik default OAuth Mapping: OpenID 'offline_access'",
    scope_name: 'offline_access',
    description: 'Access to request new tokens without interaction',
    expression: SCOPE_OFFLINE_ACCESS,
  },
  {
    managed: 'goauthentik.io/providers/oauth2/scope-authentik_api',
    name: 'authentik default OAuth Mapping: authentik API access',
    scope_name: 'goauthentik.io/api',
    description: 'authentik API Access on behalf of your user',
    expression: SCOPE_AUTHENTIK_API,
  },
  {
    // (authentik 2026.8's mapping for its dynamic client registration scope; its managed id is Keystage's guess)
    managed: 'goauthentik.io/providers/oauth2/scope-authentik_dcr',
    name: 'authentik default OAuth Mapping: authentik Dynamic Client Registration',
    scope_name: 'goauthentik.io/oidc/dcr',
    description: 'Register OAuth2 clients on behalf of your user',
    expression: SCOPE_AUTHENTIK_DCR,
  },
];

/** which of these managed ids a mapping has */
async function existingManaged(db: DB, ids: string[]): Promise<Set<string | null>> {
  const rows = await db.selectFrom('property_mappings').select('managed').where('managed', 'in', ids).execute();
  return new Set(rows.map((r) => r.managed));
}

/**
 * Creates the managed scope mappings that are missing (by managed id), as authentik's system blueprint does at start.
 * A mapping an admin changed keeps the change; one deleted comes back at the next start (authentik's blueprints do
 * the same). Safe when several nodes start at once.
 */
export async function ensureManagedScopeMappings(db: DB): Promise<void> {
  await ensureManaged(db, MANAGED_SCOPE_MAPPINGS, 'scopemapping', (tx, pm_uuid, m) =>
    tx.insertInto('property_mapping_scope').values({ pm_uuid, scope_name: m.scope_name, description: m.description }).execute(),
  );
}

/**
 * the managed mappings of a kind that are missing, each made in a transaction with what `more` adds; a mapping an
 * admin made under the same name keeps it (the managed one takes a suffixed name); safe when several nodes start
 */
export async function ensureManaged<M extends { managed: string; name: string; expression: string }>(
  db: DB,
  list: readonly M[],
  kind: string,
  more?: (tx: Tx, pm_uuid: string, m: M) => Promise<unknown>,
): Promise<void> {
  const have = await existingManaged(
    db,
    list.map((m) => m.managed),
  );
  for (const m of list) {
    if (have.has(m.managed)) continue;
    try {
      await db.transaction().execute(async (tx) => {
        const pm_uuid = randomUUID();
        const now = new Date().toISOString();
        const clash = await tx.selectFrom('property_mappings').select('pm_uuid').where('name', '=', m.name).executeTakeFirst();
        await tx
          .insertInto('property_mappings')
          .values({
            pm_uuid,
            name: clash ? `${m.name} (${pm_uuid.slice(0, 8)})` : m.name,
            expression: m.expression,
            managed: m.managed,
            kind,
            created: now,
            last_updated: now,
          })
          .execute();
        await more?.(tx, pm_uuid, m);
      });
    } catch (e) {
      // another node created it at the same moment
      if (!(await db.selectFrom('property_mappings').select('pm_uuid').where('managed', '=', m.managed).executeTakeFirst())) throw e;
    }
  }
}

/** authentik's LDAP source mappings (blueprints/system/sources-ldap.yaml), created at the first start like the scopes */
const ldapMapping = (managed: string, name: string, expression: string) => ({
  managed: `goauthentik.io/sources/ldap/${managed}`,
  name,
  expression,
});
const attributeMapping = (key: string, ldapName: string) => `return {
    "attributes": {
        "${key}": list_flatten(ldap.get("${ldapName}")),
    },
}
`;
export const MANAGED_LDAP_MAPPINGS = [
  ldapMapping(
    'default-dn-path',
    'authentik default LDAP Mapping: DN to User Path',
    `path_elements = []
for pair in dn.split(","):
    attr, _, value = pair.partition("=")
    # Ignore elements from the Root DSE and the canonical name of the object
    if attr.lower() in ["cn", "dc"]:
        continue
    path_elements.append(value)
path_elements.reverse()

path = source.get_user_path()
if len(path_elements) > 0:
    path = f"{path}/{'/'.join(path_elements)}"
return {
    "path": path
}
`,
  ),
  ldapMapping('default-name', 'authentik default LDAP Mapping: Name', 'return {\n    "name": ldap.get("name"),\n}\n'),
  ldapMapping('default-mail', 'authentik default LDAP Mapping: mail', 'return {\n    "email": ldap.get("mail"),\n}\n'),
  ldapMapping(
    'ms-samaccountname',
    'authentik default Active Directory Mapping: sAMAccountName',
    'return {\n    "username": ldap.get("sAMAccountName"),\n}\n',
  ),
  ldapMapping(
    'ms-userprincipalname',
    'authentik default Active Directory Mapping: userPrincipalName',
    attributeMapping('upn', 'userPrincipalName'),
  ),
  ldapMapping('ms-givenName', 'authentik default Active Directory Mapping: givenName', attributeMapping('givenName', 'givenName')),
  ldapMapping('ms-sn', 'authentik default Active Directory Mapping: sn', attributeMapping('sn', 'sn')),
  ldapMapping('openldap-uid', 'authentik default OpenLDAP Mapping: uid', 'return {\n    "username": ldap.get("uid"),\n}\n'),
  ldapMapping('openldap-cn', 'authentik default OpenLDAP Mapping: cn', 'return {\n    "name": ldap.get("cn"),\n}\n'),
];

export async function ensureManagedLdapMappings(db: DB): Promise<void> {
  await ensureManaged(db, MANAGED_LDAP_MAPPINGS, 'ldapsourcepropertymapping');
}
