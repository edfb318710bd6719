/** Browser view of `ak-stage-captcha`: the provider's widget; the token is submitted as soon as it is issued. */
import { html } from 'lit';
import { StageElement } from '../../../web/src/base.js';
import { renderCaptcha } from '../../../web/src/captcha.js';

class CaptchaView extends StageElement {
  private failed = false;

  override firstUpdated() {
    const box = this.querySelector<HTMLElement>('#ks-captcha');
    if (!box) return;
    renderCaptcha(box, this.challenge as never, (token) => void this.host.submit({ token })).catch(() => {
      this.failed = true;
      this.requestUpdate();
    });
  }

  override focusFirst() {
    this.querySelector<HTMLElement>('iframe, button, input')?.focus();
  }

  override render() {
    return html`${this.userHeader()}
      <form class="ks-form" @submit=${(e: Event) => e.preventDefault()}>
        ${this.nonFieldErrors()} ${this.fieldErrors('token')}
        <p id="ks-captcha-help">${this.challenge.interactive ? 'Please confirm you are human.' : 'Checking that you are human…'}</p>
        <div id="ks-captcha" class="ks-captcha" aria-describedby="ks-captcha-help"></div>
        ${this.failed ? html`<div class="ks-alert" role="alert">The captcha could not be loaded. Reload the page to try again.</div>` : ''}
      </form>`;
  }
}
customElements.define('ak-stage-captcha', CaptchaView);
