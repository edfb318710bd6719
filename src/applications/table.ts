/** The application tables (migration 0015_applications). */
type Bool = number | boolean;

export interface ApplicationsTable {
  /** the primary key, as authentik's (Application's pk is its PolicyBindingModel's pbm_uuid) */
  pbm_uuid: string;
  name: string;
  slug: string;
  /** providers.id; one application per provider */
  provider: number | null;
  meta_launch_url: string;
  meta_icon: string;
  meta_description: string;
  meta_publisher: string;
  meta_hide: Bool;
  open_in_new_tab: Bool;
  group: string;
  policy_engine_mode: string;
  created: string;
  last_updated: string;
}

/** consent a person gave an application (authentik's UserConsent); changes on logins, not a configuration table */
export interface UserConsentsTable {
  id: number;
  user: number;
  application: string;
  /** null when it does not expire */
  expires: string | null;
  expiring: Bool;
  /** the consented permission ids (scopes), separated by spaces */
  permissions: string;
}

declare module '../db/types.js' {
  interface Database {
    applications: ApplicationsTable;
    user_consents: UserConsentsTable;
  }
}
