/**
 * Browser view of `ak-stage-captcha`: the provider's widget; the token is submitted as soon as it is issued.
 * After a refused token the view waits for the person to try again (no automatic resubmission loop).
 */
import { html, nothing } from 'lit';
import { StageElement } from '#web/base.js';
import type { CaptchaChallenge } from './challenge.js';
import { renderCaptcha } from '#web/captcha.js';

class CaptchaView extends StageElement<CaptchaChallenge> {
  private failed = false;
  private started = false;

  override firstUpdated() {
    if (!this.challenge.response_errors) this.start();
  }

  private start() {
    this.started = true;
    this.requestUpdate();
    void this.updateComplete.then(() => {
      const box = this.querySelector<HTMLElement>('#ks-captcha');
      if (!box) return;
      renderCaptcha(box, this.challenge as never, (token) => void this.host.submit({ token })).catch(() => {
        this.failed = true;
        this.requestUpdate();
      });
    });
  }

  override focusFirst() {
    this.querySelector<HTMLElement>('#ks-captcha-retry, iframe, input, button')?.focus();
  }

  override render() {
    return html`${this.userHeader()}
      <form class="ks-form" @submit=${(e: Event) => e.preventDefault()}>
        ${this.nonFieldErrors()} ${this.fieldErrors('token')}
        <p id="ks-captcha-help">${this.challenge.interactive ? 'Please confirm you are human.' : 'Checking that you are human…'}</p>
        ${this.started ? html`<div id="ks-captcha" class="ks-captcha" aria-describedby="ks-captcha-help"></div>` : nothing}
        ${!this.started ? html`<button id="ks-captcha-retry" type="button" class="ks-primary" @click=${() => this.start()}>Try again</button>` : nothing}
        ${this.failed ? html`<div class="ks-alert" role="alert">The captcha could not be loaded. Reload the page to try again.</div>` : nothing}
      </form>`;
  }
}
customElements.define('ak-stage-captcha', CaptchaView);
