/**
 * A person's credentials changed: what other parts may want to hear (authentik's Django signals the Shared Signals
 * Framework provider receives — `password_changed`, an authenticator saved or deleted). Told after the change
 * committed, by the code that made it; a listener's failure is logged and never fails the change. A session's end has
 * its own hook (Sessions.onLogout). And a password a person chooses is asked of its checks before it is taken
 * (authentik's `password_validate`: an LDAP source's Active Directory complexity); a source's sync that did not queue
 * its changes asks the outgoing sync providers for a full sync.
 */
import type { UsersTable } from '../db/types.js';
export interface CredentialChange {
  userId: number;
  /** CAEP's `credential_type` (password, pin, fido-u2f, app, phone-sms, …); null where CAEP has no name for it */
  credentialType: string | null;
  /** CAEP's `change_type` */
  changeType: 'create' | 'update' | 'delete' | 'revoke';
  /** the device's name */
  friendlyName?: string;
  /** a WebAuthn device's authenticator model */
  fido2Aaguid?: string;
}

export type CredentialListener = (change: CredentialChange) => Promise<void>;

/**
 * A password a person chose, before it is taken (authentik's `password_validate`, sent for each password field of a
 * prompt stage): a check answers why it is refused, or undefined. `user` is the flow's pending user, if any.
 */
export type PasswordCheck = (password: string, user: UsersTable | undefined) => Promise<string | undefined>;

/** what a refused password is told when a check could not run: a check that fails refuses (fail closed) */
export const PASSWORD_NOT_CHECKED = 'The password could not be checked.';

export class Signals {
  private readonly credentialListeners: CredentialListener[] = [];
  private readonly passwordChecks: PasswordCheck[] = [];
  private readonly fullSyncListeners: (() => Promise<void>)[] = [];

  constructor(private readonly onError: (err: unknown) => void = () => {}) {}

  onCredentialChange(listener: CredentialListener): void {
    this.credentialListeners.push(listener);
  }

  async credentialChanged(change: CredentialChange): Promise<void> {
    for (const listener of this.credentialListeners) await listener(change).catch(this.onError);
  }

  /** an outgoing sync provider type (SCIM) syncs each of its providers in full when told `outgoingFullSync` */
  onOutgoingFullSync(listener: () => Promise<void>): void {
    this.fullSyncListeners.push(listener);
  }

  /**
   * a source's sync changed users and groups without queuing each change for the outgoing sync providers (its
   * `sync_outgoing_trigger_mode` is `deferred_end`): each of them syncs in full (authentik's `sync_dispatch`)
   */
  async outgoingFullSync(): Promise<void> {
    for (const listener of this.fullSyncListeners) await listener().catch(this.onError);
  }

  onPasswordValidate(check: PasswordCheck): void {
    this.passwordChecks.push(check);
  }

  /** why each check refuses `password` (none: it may be taken); a check that throws refuses it */
  async validatePassword(password: string, user: UsersTable | undefined): Promise<string[]> {
    const refusals: string[] = [];
    for (const check of this.passwordChecks) {
      const why = await check(password, user).catch((err: unknown) => {
        this.onError(err);
        return PASSWORD_NOT_CHECKED;
      });
      if (why !== undefined) refusals.push(why);
    }
    return refusals;
  }
}
