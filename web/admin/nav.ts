/**
 * The admin interface's sidebar, in authentik's sections and names. Each entry is a list path of the API; an entry the
 * server does not serve (not in its OpenAPI document) is left out.
 */
export interface NavEntry {
  label: string;
  /** the API's list path, or a page of its own: `overview`, `reviews` */
  path: string;
}

/** the pages of their own (not an API list), each with the API path it needs to be shown (null: always) */
export const PAGES: Record<string, string | null> = { overview: null, reviews: '/lifecycle/iterations/open/' };

export const NAV: { section: string; entries: NavEntry[] }[] = [
  {
    section: 'Dashboards',
    entries: [
      { label: 'Overview', path: 'overview' },
      { label: 'System Tasks', path: '/tasks/tasks/' },
      { label: 'Schedules', path: '/tasks/schedules/' },
    ],
  },
  {
    section: 'Applications',
    entries: [
      { label: 'Applications', path: '/core/applications/' },
      { label: 'Providers', path: '/providers/all/' },
      { label: 'Request Rules', path: '/requests/rules/' },
      { label: 'Access Requests', path: '/requests/grant-requests/' },
      { label: 'Shared Signals Streams', path: '/ssf/streams/' },
    ],
  },
  {
    section: 'Events',
    entries: [
      { label: 'Logs', path: '/events/events/' },
      { label: 'Notification Rules', path: '/events/rules/' },
      { label: 'Notification Transports', path: '/events/transports/' },
    ],
  },
  {
    section: 'Customization',
    entries: [
      { label: 'Policies', path: '/policies/all/' },
      { label: 'Property Mappings', path: '/propertymappings/all/' },
      { label: 'Blueprints', path: '/managed/blueprints/' },
      { label: 'Reputation scores', path: '/policies/reputation/scores/' },
    ],
  },
  {
    section: 'Flows and Stages',
    entries: [
      { label: 'Flows', path: '/flows/instances/' },
      { label: 'Stages', path: '/stages/all/' },
      { label: 'Prompts', path: '/stages/prompt/prompts/' },
    ],
  },
  {
    section: 'Directory',
    entries: [
      { label: 'Users', path: '/core/users/' },
      { label: 'Groups', path: '/core/groups/' },
      { label: 'Roles', path: '/rbac/roles/' },
      { label: 'Federation and Social login', path: '/sources/all/' },
      { label: 'Tokens and App passwords', path: '/core/tokens/' },
      { label: 'Invitations', path: '/stages/invitation/invitations/' },
      { label: 'Object Attributes', path: '/core/object_attributes/' },
      { label: 'User Offboarding', path: '/lifecycle/user_offboarding/' },
      { label: 'Lifecycle Rules', path: '/lifecycle/rules/' },
      { label: 'Reviews', path: 'reviews' },
    ],
  },
  {
    section: 'System',
    entries: [
      { label: 'Brands', path: '/core/brands/' },
      { label: 'Certificates', path: '/crypto/certificatekeypairs/' },
      { label: 'Settings', path: '/admin/settings/' },
    ],
  },
];

/** an object's policy-binding target: its `pbm_uuid` (applications) or `policybindingmodel_ptr_id` (flows, stage
 * bindings), else its pk (sources) */
const pbm = (o: Record<string, unknown>) => String(o.pbm_uuid ?? o.policybindingmodel_ptr_id ?? o.pk ?? '');

/**
 * lists shown under an object (its bindings), with the field naming the object and the object's value for it: a
 * flow's stage bindings, and the policy bindings of anything policies bind to (a flow, an application, a source, a
 * stage binding)
 */
export const RELATED: { label: string; list: string; field: string; under: RegExp; value(o: Record<string, unknown>): string }[] = [
  {
    label: 'Stage bindings',
    list: '/flows/bindings/',
    field: 'target',
    under: /^\/flows\/instances\/$/,
    value: (o) => String(o.pk ?? ''),
  },
  {
    label: 'Policy bindings',
    list: '/policies/bindings/',
    field: 'target',
    under: /^\/(flows\/instances|core\/applications|flows\/bindings|sources\/\w+|requests\/rules|requests\/rule-bindings)\/$/,
    value: pbm,
  },
  {
    label: 'Rule bindings',
    list: '/requests/rule-bindings/',
    field: 'rule',
    under: /^\/requests\/rules\/$/,
    value: (o) => String(o.uuid ?? ''),
  },
  {
    label: 'Entitlements requestable with it',
    list: '/requests/rule-child-bindings/',
    field: 'binding',
    under: /^\/requests\/rule-bindings\/$/,
    value: (o) => String(o.uuid ?? ''),
  },
];
