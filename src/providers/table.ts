/** The provider base tables (migration 0015_applications); each type's own settings table is reached through its ProviderDef. */

export interface ProvidersTable {
  /** authentik's integer primary key */
  id: number;
  name: string;
  /** lowercase model name: `oauth2provider` */
  kind: string;
  authentication_flow: string | null;
  authorization_flow: string | null;
  invalidation_flow: string | null;
  created: string;
  last_updated: string;
}

/** a provider's property mappings (authentik's Provider.property_mappings) */
export interface ProviderPropertyMappingsTable {
  provider_id: number;
  pm_uuid: string;
}

/** a provider serving an application as a backchannel provider (authentik's Provider.backchannel_application) */
export interface ApplicationBackchannelProvidersTable {
  provider_id: number;
  application: string;
}

declare module '../db/types.js' {
  interface Database {
    providers: ProvidersTable;
    provider_property_mappings: ProviderPropertyMappingsTable;
    application_backchannel_providers: ApplicationBackchannelProvidersTable;
  }
}
