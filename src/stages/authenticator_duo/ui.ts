/** Browser view of `ak-stage-authenticator-duo`: Duo's activation QR code and code, then a check of the activation. */
import { html } from 'lit';
import { StageElement } from '#web/base.js';
import type { AuthenticatorDuoChallenge } from './challenge.js';

class DuoSetupView extends StageElement<AuthenticatorDuoChallenge> {
  override render() {
    const c = this.challenge;
    return html`${this.userHeader()}
      <form class="ks-form" method="post" @submit=${(e: Event) => {
        e.preventDefault();
        void this.host.submit({});
      }}>
        ${this.nonFieldErrors()}
        <p>Scan this code with the Duo Mobile app, then continue.</p>
        <img class="ks-qr" src=${c.activation_barcode} alt="Duo activation QR code" width="200" height="200" />
        <p>Activation code: <code id="ks-duo-code">${c.activation_code}</code></p>
        ${this.submitButton('I have activated Duo Mobile')}
      </form>`;
  }
}
customElements.define('ak-stage-authenticator-duo', DuoSetupView);
