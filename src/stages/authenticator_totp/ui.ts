/** Browser view of `ak-stage-authenticator-totp`: a QR code of the otpauth URL, the secret in text, a code field. */
import { html, nothing } from 'lit';
import { unsafeSVG } from 'lit/directives/unsafe-svg.js';
import QRCode from 'qrcode';
import { StageElement } from '#web/base.js';
import type { AuthenticatorTOTPChallenge } from './challenge.js';

class TotpSetupView extends StageElement<AuthenticatorTOTPChallenge> {
  private svg = '';

  override async firstUpdated() {
    this.svg = await QRCode.toString(this.challenge.config_url, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
    this.requestUpdate();
  }

  private get secret(): string {
    try {
      return new URL(this.challenge.config_url).searchParams.get('secret') ?? '';
    } catch {
      return '';
    }
  }

  private onSubmit(e: Event) {
    e.preventDefault();
    void this.host.submit({ code: this.formValues(e.target as HTMLFormElement).code });
  }

  override render() {
    return html`${this.userHeader()}
      <form class="ks-form" method="post" novalidate @submit=${this.onSubmit}>
        ${this.nonFieldErrors()}
        <p>Scan this code with your authenticator app, or type the key below into it.</p>
        <div class="ks-qr" role="img" aria-label="QR code for your authenticator app">${this.svg ? unsafeSVG(this.svg) : nothing}</div>
        <p>Key: <code id="ks-totp-secret" class="ks-secret">${this.secret}</code></p>
        <div class="ks-field">
          <label for="code">Code from your authenticator app</label>
          <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required
            aria-invalid=${this.errorsFor('code').length ? 'true' : 'false'} aria-describedby=${this.describedBy('code')} />
          ${this.fieldErrors('code')}
        </div>
        ${this.submitButton('Continue')}
      </form>`;
  }
}
customElements.define('ak-stage-authenticator-totp', TotpSetupView);
