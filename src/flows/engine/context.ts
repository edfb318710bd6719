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
  authMethodArgs?: { mfa_devices?: MfaDeviceRef[]; device?: MfaDeviceRef; known_device?: boolean };
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
  /** a deny stage's message set by what ran before it */
  denyMessage?: string;
  /** each stage's own state, by stage uuid: StageCall.state (kept until the stage passes) */
  stages?: Record<string, Record<string, unknown>>;
}

export function isPlaceholder(u: PendingUser | undefined): boolean {
  return !u || u.id === null;
}
