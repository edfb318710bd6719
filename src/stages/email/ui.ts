/** Browser view of `ak-stage-email`: check your inbox, and a button that sends the link again. */
import { html, nothing } from 'lit';
import { StageElement } from '#web/base.js';
import type { EmailChallenge } from './challenge.js';

class EmailView extends StageElement<EmailChallenge> {
  private onSubmit(e: Event) {
    e.preventDefault();
    void this.host.submit({});
  }

  override render() {
    // a re-send is answered "email-sent" (authentik's always-invalid response): shown as a notice, not as an error
    const resent = (this.challenge.response_errors?.non_field_errors ?? []).some((e) => e.code === 'email-sent');
    return html`<form class="ks-form" method="post" @submit=${this.onSubmit}>
      <h2>Check your inbox</h2>
      <p>If an account matches, we sent it an e-mail with a link. Open the link to continue; it works once and expires.</p>
      ${resent ? html`<p role="status">Email Successfully sent.</p>` : nothing}
      <button type="submit" ?disabled=${this.busy}>Send Email again.</button>
    </form>`;
  }
}
customElements.define('ak-stage-email', EmailView);
