/**
 * A person's credentials changed: what other parts may want to hear (authentik's Django signals the Shared Signals
 * Framework provider receives — `password_changed`, an authenticator saved or deleted). Told after the change
 * committed, by the code that made it; a listener's failure is logged and never fails the change. A session's end has
 * its own hook (Sessions.onLogout).
 */
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

export class Signals {
  private readonly credentialListeners: CredentialListener[] = [];

  constructor(private readonly onError: (err: unknown) => void = () => {}) {}

  onCredentialChange(listener: CredentialListener): void {
    this.credentialListeners.push(listener);
  }

  async credentialChanged(change: CredentialChange): Promise<void> {
    for (const listener of this.credentialListeners) await listener(change).catch(this.onError);
  }
}
