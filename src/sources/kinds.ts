/**
 * The contract of a source type (src/sources/<type>/): its names — from which authentik's model, app, component and
 * connection models follow —, the entries it adds to /sources/all/types, how a person connects it from their settings
 * page (if they can), and the routes it mounts. src/sources/registry.ts lists the types; src/sources/all.ts serves
 * what spans them.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiRouter } from '../rest/routes.js';
import type { SecretColumn } from '../instance/secrets.js';
import type { ColumnReference } from '../rest/references.js';
import type { Services } from '../services.js';

/** a type's names: `ldap` (its paths and authentik's app `authentik_sources_ldap`) and `LDAP` (its verbose name) */
export interface SourceNames {
  type: string;
  label: string;
}

/**
 * a list of sources stored as JSON in another table's column (the identification stage's `sources`, an OAuth2
 * provider's `jwt_federation_sources`), keyed by `pk`
 */
export interface JsonListReference {
  table: string;
  column: string;
  pk: string;
}

/** what the server gives each type's routes: who names sources, and a way to ask the schedulers to look now */
export interface SourceMountRefs {
  lists: () => JsonListReference[];
  columns: () => ColumnReference[];
  /** a source was saved (an LDAP source's sync is due at once) */
  saved: () => void;
}

/** authentik's TypeCreate: an entry of /sources/all/types */
export interface TypeCreate {
  name: string;
  description: string;
  component: string;
  model_name: string;
  icon_url: string;
  requires_enterprise: boolean;
  deprecated: boolean;
}

export interface SourceTypeDef extends SourceNames {
  /** its entries of /sources/all/types */
  creatable: () => TypeCreate[];
  /** a type a person connects from their settings page (/sources/all/user_settings) */
  userSettings?: { component: string; configurePath: (slug: string) => string; icon: string | null };
  /** its REST resources */
  mount(router: ApiRouter, svc: Services, refs: SourceMountRefs): void;
  /** its protocol routes outside the API (`/source/<type>/…`) */
  routes?(app: FastifyInstance, svc: Services): void;
  /** the key pairs its table names (the pairs' `used_by`) */
  keyPairReferences?(): ColumnReference[];
  /** its columns holding secrets, sealed at rest (re-encrypted at start under a new key, src/instance/secrets.ts) */
  secretColumns?: SecretColumn[];
}

/** authentik's model name of a type's sources, the `kind` of their `sources` rows: `ldapsource` */
export const kindOf = (t: SourceNames) => `${t.type}source`;

/** what the API shows of a source type (authentik's component, verbose names and model) */
export const sourceMeta = (t: SourceNames) => ({
  component: `ak-source-${t.type}-form`,
  verbose_name: `${t.label} Source`,
  verbose_name_plural: `${t.label} Sources`,
  meta_model_name: `authentik_sources_${t.type}.${kindOf(t)}`,
});

/** the app and the connection models of a type (authentik's per-type connection classes) */
export const connectionModels = (t: SourceNames) => ({
  app: `authentik_sources_${t.type}`,
  user: `user${t.type}sourceconnection`,
  group: `group${t.type}sourceconnection`,
  label: t.label,
});

/** a /sources/all/types entry of a type with one form */
export const typeCreate = (t: SourceNames, description: string, icon: string): TypeCreate => ({
  name: `${t.label} Source`,
  description,
  component: `ak-source-${t.type}-form`,
  model_name: kindOf(t),
  icon_url: `/static/authentik/sources/${icon}`,
  requires_enterprise: false,
  deprecated: false,
});
