/** Browser view of `ak-stage-authenticator-webauthn`: registers a security key or passkey (navigator.credentials.create). */
import { html } from 'lit';
import { StageElement } from '#web/base.js';
import type { AuthenticatorWebAuthnChallenge } from './challenge.js';
import { createCredential } from '#web/webauthn.js';

class WebAuthnSetupView extends StageElement<AuthenticatorWebAuthnChallenge> {
  private error = '';

  override firstUpdated() {
    void this.register();
  }

  private async register() {
    this.error = '';
    this.requestUpdate();
    try {
      const response = await createCredential(this.challenge.registration);
      await this.host.submit({ response });
    } catch {
      this.error = 'The security key did not answer. Try again.';
      this.requestUpdate();
    }
  }

  override focusFirst() {
    this.querySelector<HTMLElement>('#ks-webauthn-retry')?.focus();
  }

  override render() {
    return html`${this.userHeader()}
      <div class="ks-form">
        ${this.nonFieldErrors()} ${this.fieldErrors('response')}
        <p role="status">Follow your browser's prompt to register a security key or passkey.</p>
        ${this.error ? html`<p class="ks-field-error" role="alert">${this.error}</p>` : ''}
        <button id="ks-webauthn-retry" type="button" class="ks-primary" ?disabled=${this.busy} @click=${() => this.register()}>Try again</button>
      </div>`;
  }
}
customElements.define('ak-stage-authenticator-webauthn', WebAuthnSetupView);
