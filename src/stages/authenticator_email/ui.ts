/** Browser view of `ak-stage-authenticator-email`: the address (when none is known), then the code sent to it. */
import { html } from 'lit';
import { StageElement } from '#web/base.js';
import type { AuthenticatorEmailChallenge } from './challenge.js';

class EmailSetupView extends StageElement<AuthenticatorEmailChallenge> {
  private onSubmit(e: Event) {
    e.preventDefault();
    const v = this.formValues(e.target as HTMLFormElement);
    void this.host.submit(this.challenge.email_required ? { email: v.email } : { code: v.code });
  }

  override render() {
    const c = this.challenge;
    return html`${this.userHeader()}
      <form class="ks-form" method="post" novalidate @submit=${this.onSubmit}>
        ${this.nonFieldErrors()}
        ${
          c.email_required
            ? html`<div class="ks-field">
              <label for="email">E-mail address for sign-in codes</label>
              <input id="email" name="email" type="email" autocomplete="email" required aria-describedby=${this.describedBy('email')} />
              ${this.fieldErrors('email')}
            </div>`
            : html`<p>We sent a code to <strong>${c.email}</strong>.</p>
              <div class="ks-field">
                <label for="code">Code from the e-mail</label>
                <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required aria-describedby=${this.describedBy('code')} />
                ${this.fieldErrors('code')}
              </div>`
        }
        ${this.submitButton('Continue')}
      </form>`;
  }
}
customElements.define('ak-stage-authenticator-email', EmailSetupView);
