/** Browser view of `ak-stage-authenticator-sms`: the phone number, then the code sent to it. */
import { html } from 'lit';
import { StageElement } from '#web/base.js';
import type { AuthenticatorSMSChallenge } from './challenge.js';

class SmsSetupView extends StageElement<AuthenticatorSMSChallenge> {
  private onSubmit(e: Event) {
    e.preventDefault();
    const v = this.formValues(e.target as HTMLFormElement);
    void this.host.submit(this.challenge.phone_number_required ? { phone_number: v.phone_number } : { code: v.code });
  }

  override render() {
    const c = this.challenge;
    return html`${this.userHeader()}
      <form class="ks-form" method="post" novalidate @submit=${this.onSubmit}>
        ${this.nonFieldErrors()}
        ${
          c.phone_number_required
            ? html`<div class="ks-field">
              <label for="phone_number">Phone number</label>
              <input id="phone_number" name="phone_number" type="tel" autocomplete="tel" required aria-describedby=${this.describedBy('phone_number')} />
              ${this.fieldErrors('phone_number')}
            </div>`
            : html`<div class="ks-field">
              <label for="code">Code from the text message</label>
              <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required aria-describedby=${this.describedBy('code')} />
              ${this.fieldErrors('code')}
            </div>`
        }
        ${this.submitButton('Continue')}
      </form>`;
  }
}
customElements.define('ak-stage-authenticator-sms', SmsSetupView);
