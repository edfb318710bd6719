/** The typed state a flow carries from stage to stage (authentik's plan context, without the bag of string keys). */

/** The user being authenticated. `id: null` is the placeholder for an identifier that matched nobody. */
export interface PendingUser {
  id: number | null;
  username: string;
  email: string;
  name: string;
}

export interface MfaDeviceRef {
  app: string;
  model_name: string;
  name: string;
  pk: number;
}

export interface DeviceChallenge {
  device_class: string;
  device_uid: string;
  challenge: Record<string, unknown>;
  last_used: string | null;
}

export interface FlowContext {
  pendingUser?: PendingUser;
  /** what the person typed, shown instead of the matched account when show_matched_user is off */
  pendingUserIdentifier?: string;
  /** backend that verified the password (authentik's `user_backend`) */
  userBackend?: string;
  authMethod?: string;
  authMethodArgs?: {
    mfa_devices?: MfaDeviceRef[];
    device?: MfaDeviceRef;
    known_device?: boolean;
    certificate?: PlanCertificate;
    /** the LDAP source a password was checked at */
    source?: Record<string, unknown>;
  };
  /** the client certificate a mutual TLS stage accepted in an enrollment flow (authentik's plan context `certificate`) */
  certificate?: PlanCertificate;
  /** the captcha provider's verification reply (authentik's plan context `captcha`, for what runs after it) */
  captcha?: { response: unknown; stage: string };
  /** failed password checks in this plan, wherever the password was entered (password stage or identification) */
  passwordFailures?: number;
  /** this login attempt's name for codes sent outside the browser (e-mail, SMS): they work only in this attempt */
  sideChannelNonce?: string;
  /** post-flow redirect that overrides `next` (a flow started with a continuation: engine/start.ts) */
  redirect?: string;
  /**
   * what prompt stages collected, by field key (authentik's `prompt_data`): read by policies, by later prompts'
   * initial values, and written to the user by a user write stage
   */
  promptData?: Record<string, unknown>;
  /** the plan was started by `POST /core/users/account_lockdown/` (the account lockdown stage acts only then or after a prompt) */
  lockdownRequested?: boolean;
  /**
   * the plan was started by `POST /core/users/switch/` (src/flows/user-switch.ts): `add` another login to the
   * browser, or switch to the browser's login `target` (a session key) of the pending user, `from` the user logged
   * in; the user login stage keeps the login it was in for the browser to switch back to
   */
  userSwitch?: { add?: true; from: number; target?: string };
  /** a deny stage's message set by what ran before it */
  denyMessage?: string;
  /** authentik's `redirect_stage_target`, set by a policy: where a redirect stage sends the person instead (`ak-flow://slug` or a URL) */
  redirectStageTarget?: string;
  /** other keys policies wrote into the flow context (authentik's names), read back by later policies (policy-writes.ts) */
  policyData?: Record<string, unknown>;
  /** redirects a policy asked for with `flow_plan.redirect(url)`, not yet inserted into the plan (plan-redirect.ts) */
  planRedirects?: string[];
  /**
   * the invitation an invitation stage accepted (authentik's plan context `invitation`, and `invitation_in_effect`
   * while it is set): a single-use one is claimed — deleted — by the user write stage's transaction, or by the
   * invitation stage itself when no user write follows
   */
  invitation?: PlanInvitation;
  /** set by a redirect stage that switched to this flow: the flow it came from (authentik's `is_redirected`) */
  isRedirected?: { pk: string; slug: string };
  /**
   * the application a provider's authorization flow is about (authentik's plan context `application`), set by the
   * provider when it starts the flow; the consent stage keeps consent per application
   */
  application?: PlanApplication;
  /** what the consent stage asks, under authentik's plan-context keys (a provider sets them when it starts the flow) */
  consent_title?: string;
  consent_header?: string;
  consent_permissions?: ConsentPermission[];
  consent_additional_permissions?: ConsentPermission[];
  /**
   * set when the plan was restored from a flow token (a link's `?flow_token=`, src/flows/tokens.ts; authentik's
   * `is_restored`): which token, the user it was made for, and whether restoring used it up (`revoke_on_execution`;
   * otherwise the stage that asked for it consumes it)
   */
  restoredToken?: { id: string; userId: number | null; consumed: boolean };
  /**
   * set when a source started this flow (src/sources/flow-manager.ts): authentik's plan context `source` and `is_sso`
   * (policies see `is_sso: true`, expressions `ak_is_sso_flow`)
   */
  source?: { pk: string; slug: string; name: string; provider_type?: string };
  /** what the source adds to its flow's policy context (authentik's `policy_context`: an OAuth source's `oauth_userinfo`) */
  sourcePolicyContext?: Record<string, unknown>;
  /**
   * the identity the source vouched for, to be linked to the pending user by the source's in-memory stage once the
   * flow has logged them in or enrolled them (authentik's `goauthentik.io/sources/connection`); `accessToken` sealed
   */
  sourceConnection?: { source: string; identifier: string; accessToken: string | null; expires: string };
  /**
   * a source could not match the person for a reason the source stage that sent them there resumes on (authentik's
   * plan context `source_match_failure`): the flow went on without the source's login
   */
  sourceMatchFailure?: { reason: 'missing_property'; property: string; source_slug: string };
  /** the groups the source named for the person and how it matches them (`group_matching_mode`), applied with the connection */
  sourceGroups?: { groups: { id: string; name: string; attributes?: Record<string, unknown> }[]; mode: string };
  /** the path a user write stage gives a user it creates, instead of its own template (authentik's `user_path`: a source's) */
  userPath?: string;
  /**
   * an access request being made (src/requests/: authentik's `goauthentik.io/requests/*` plan context): the targets'
   * pbm_uuids, how long it stays pending, the longest grant the rules allow and the requester's own wish
   */
  grantRequest?: { pbms: string[]; pendingExpiry: string; maxExpiry: string; requestedExpiry: string | null };
  /** each stage's own state, by stage uuid: StageCall.state (kept until the stage passes) */
  stages?: Record<string, Record<string, unknown>>;
}

/** a client certificate as the plan carries it (authentik's `_cert_to_dict`; fingerprints as colon-separated hex) */
export interface PlanCertificate {
  serial_number: string;
  subject: string;
  issuer: string;
  fingerprint_sha256: string;
  fingerprint_sha1: string;
}

/** an application as the plan carries it */
export interface PlanApplication {
  /** its pbm_uuid (authentik's Application pk) */
  pk: string;
  slug: string;
  name: string;
}

/** an application row as the plan carries it */
export const planApplication = (app: { pbm_uuid: string; slug: string; name: string }): PlanApplication => ({
  pk: app.pbm_uuid,
  slug: app.slug,
  name: app.name,
});

/** an invitation as the plan carries it */
export interface PlanInvitation {
  pk: string;
  name: string;
  single_use: boolean;
  /** the flow it is restricted to, if any */
  flow: string | null;
  /** a single-use invitation already deleted by this flow (its user was written) */
  claimed?: boolean;
}

/** one permission the consent stage shows (authentik's PermissionSerializer: the id is e.g. a scope name) */
export interface ConsentPermission {
  id: string;
  name: string;
}

export function isPlaceholder(u: PendingUser | undefined): boolean {
  return !u || u.id === null;
}
