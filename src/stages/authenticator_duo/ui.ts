/**
 * Browser view of `ak-stage-authenticator-duo`: Duo's activation QR code and code. While it is shown it asks
 * `enrollment_status` every 3 s (as authentik's page does) and goes on by itself once Duo reports the activation;
 * the button does the same at once.
 */
import { html } from 'lit';
import { StageElement, cookie } from '#web/base.js';
import type { AuthenticatorDuoChallenge } from './challenge.js';

const POLL_MS = 3000;

class DuoSetupView extends StageElement<AuthenticatorDuoChallenge> {
  private timer: ReturnType<typeof setInterval> | undefined;

  override connectedCallback() {
    super.connectedCallback();
    this.timer = setInterval(() => void this.poll(), POLL_MS);
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    clearInterval(this.timer);
  }

  private polling = false;

  private async poll() {
    if (this.busy || this.polling) return;
    this.polling = true;
    try {
      await this.ask();
    } finally {
      this.polling = false;
    }
  }

  private async ask() {
    const res = await fetch(`/api/v3/stages/authenticator/duo/${encodeURIComponent(this.challenge.stage_uuid)}/enrollment_status/`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { accept: 'application/json', 'x-authentik-csrf': cookie('authentik_csrf') },
    }).catch(() => undefined);
    if (!res?.ok) return;
    const { duo_response } = (await res.json()) as { duo_response?: string };
    // the stage saves the device, or shows a new code for an expired activation (asked about from then on)
    if (duo_response === 'success' || duo_response === 'invalid') await this.host.submit({});
  }

  override render() {
    const c = this.challenge;
    return html`${this.userHeader()}
      <form class="ks-form" method="post" @submit=${(e: Event) => {
        e.preventDefault();
        void this.host.submit({});
      }}>
        ${this.nonFieldErrors()}
        <p>Scan this code with the Duo Mobile app; this page continues once Duo reports the activation.</p>
        <img class="ks-qr" src=${c.activation_barcode} alt="Duo activation QR code" width="200" height="200" />
        <p>Activation code: <code id="ks-duo-code">${c.activation_code}</code></p>
        ${this.submitButton('I have activated Duo Mobile')}
      </form>`;
  }
}
customElements.define('ak-stage-authenticator-duo', DuoSetupView);
