/** Browser view of `ak-stage-user-login` (shown only when a remember-me offset is configured). */
import { html } from 'lit';
import { StageElement } from '#web/base.js';
import type { UserLoginChallenge } from './challenge.js';

class UserLoginView extends StageElement<UserLoginChallenge> {
  private onSubmit(e: Event) {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    void this.host.submit({ remember_me: (form.elements.namedItem('remember_me') as HTMLInputElement).checked });
  }

  override render() {
    return html`${this.userHeader()}
      <form class="ks-form" method="post" @submit=${this.onSubmit}>
        ${this.nonFieldErrors()}
        <div class="ks-check"><input id="remember_me" name="remember_me" type="checkbox" /><label for="remember_me">Stay signed in</label></div>
        ${this.submitButton('Continue')}
      </form>`;
  }
}
customElements.define('ak-stage-user-login', UserLoginView);
