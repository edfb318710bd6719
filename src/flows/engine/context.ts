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
  /** the captcha provider's verification reply */
  captcha?: { response: unknown; stage: string };
  /** failed password checks in this plan, wherever the password was entered */
  passwordFailures?: number;
  /** MFA stage state: challenges offered on the last render */
  mfaChallenges?: DeviceChallenge[];
  mfaStages?: string[];
  /** base64url WebAuthn challenge issued on the last render (MFA or passkey) */
  webauthnChallenge?: string;
  /** enrolment in progress: the unconfirmed device, codes shown once, the registration challenge, failures */
  enrolment?: {
    totpDevice?: number;
    staticDevice?: number;
    staticCodes?: string[];
    webauthnChallenge?: string;
    webauthnFailures?: number;
    emailDevice?: number;
    smsDevice?: number;
    duo?: { user_id: string; activation_code: string; activation_barcode: string };
  };
  /** binds e-mail/SMS codes to this login attempt */
  sideChannelNonce?: string;
  /** post-flow redirect that overrides `next` */
  redirect?: string;
  denyMessage?: string;
}

export function isPlaceholder(u: PendingUser | undefined): boolean {
  return !u || u.id === null;
}
