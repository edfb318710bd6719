/** Browser view of `ak-stage-password`, with a hidden username field so password managers pair the two. */
import { html, nothing } from 'lit';
import { StageElement } from '#web/base.js';
import type { PasswordChallenge } from './challenge.js';

class PasswordView extends StageElement<PasswordChallenge> {
  private showPassword = false;

  private onSubmit(e: Event) {
    e.preventDefault();
    const v = this.formValues(e.target as HTMLFormElement);
    void this.host.submit({ password: v.password });
  }

  override render() {
    const c = this.challenge;
    return html`${this.userHeader()}
      <form class="ks-form" method="post" novalidate @submit=${this.onSubmit}>
        ${this.nonFieldErrors()}
        <input type="text" name="username" autocomplete="username" .value=${c.pending_user ?? ''} hidden readonly />
        <div class="ks-field">
          <label for="password">Password</label>
          <div class="ks-password">
            <input id="password" name="password" type=${this.showPassword ? 'text' : 'password'} autocomplete="current-password" required
              aria-invalid=${this.errorsFor('password').length ? 'true' : 'false'} aria-describedby=${this.describedBy('password')} />
            ${
              c.allow_show_password
                ? html`<button type="button" class="ks-secondary" aria-pressed=${this.showPassword ? 'true' : 'false'}
                  @click=${() => {
                    this.showPassword = !this.showPassword;
                    this.requestUpdate();
                  }}>${this.showPassword ? 'Hide' : 'Show'}</button>`
                : nothing
            }
          </div>
          ${this.fieldErrors('password')}
        </div>
        ${this.submitButton('Continue')}
        ${c.recovery_url ? html`<nav class="ks-links"><a href=${c.recovery_url}>Forgot password?</a></nav>` : nothing}
      </form>`;
  }
}
customElements.define('ak-stage-password', PasswordView);
