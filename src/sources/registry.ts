/**
 * The source types, in the order /sources/all/types lists them. Adding a type: its folder (src/sources/<type>/, with
 * a `SourceTypeDef`, src/sources/kinds.ts) and one line here.
 */
import type { SourceTypeDef } from './kinds.js';
import { kindOf } from './kinds.js';
import { ldapSourceType } from './ldap/resource.js';
import { plexSourceType } from './plex/resource.js';
import { samlSourceType } from './saml/resource.js';
import { scimSourceType } from './scim/resource.js';
import { telegramSourceType } from './telegram/resource.js';
import { oauthSourceType } from './oauth/resource.js';

export const SOURCE_TYPES: readonly SourceTypeDef[] = [
  ldapSourceType,
  plexSourceType,
  samlSourceType,
  scimSourceType,
  telegramSourceType,
  oauthSourceType,
];

/** the type of a `sources` row's kind (`ldapsource`) */
export const sourceTypeOf = (kind: string): SourceTypeDef | undefined => SOURCE_TYPES.find((t) => kindOf(t) === kind);
