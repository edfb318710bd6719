/**
 * authentik's two managed SCIM mappings (blueprints/system/providers-scim.yaml), made at every start with authentik's
 * managed ids, names and texts; while unchanged they run natively (mapping.ts).
 */
import type {} from '../../propertymappings/table.js';
import type { DB } from '../../db/index.js';
import { ensureManaged } from '../../propertymappings/managed.js';

export const SCIM_USER_MAPPING = `# Some implementations require givenName and familyName to be set
givenName, familyName = request.user.name, ""
# This default sets givenName to the name before the first space
# and the remainder as family name
# if the user's name has no space the givenName is the entire name
# (this might cause issues with some SCIM implementations)
if " " in request.user.name:
    givenName, _, familyName = request.user.name.partition(" ")

# photos supports URLs to images, however authentik might return data URIs
avatar = request.user.avatar
photos = []
if "://" in avatar:
    photos = [{"value": avatar, "type": "photo"}]

locale = request.user.locale()
if locale == "":
    locale = None

emails = []
if request.user.email != "":
    emails.append({
        "value": request.user.email,
        "type": "other",
        "primary": True,
    })
return {
    "userName": request.user.username,
    "name": {
        "formatted": request.user.name,
        "givenName": givenName,
        "familyName": familyName,
    },
    "displayName": request.user.name,
    "photos": photos,
    "locale": locale,
    "active": request.user.is_active,
    "emails": emails,
}
`;

export const SCIM_GROUP_MAPPING = `return {
    "displayName": group.name,
}
`;

export const MANAGED_SCIM_MAPPINGS = [
  { managed: 'goauthentik.io/providers/scim/user', name: 'authentik default SCIM Mapping: User', expression: SCIM_USER_MAPPING },
  { managed: 'goauthentik.io/providers/scim/group', name: 'authentik default SCIM Mapping: Group', expression: SCIM_GROUP_MAPPING },
];

export async function ensureManagedScimMappings(db: DB): Promise<void> {
  await ensureManaged(db, MANAGED_SCIM_MAPPINGS, 'scimmapping');
}
