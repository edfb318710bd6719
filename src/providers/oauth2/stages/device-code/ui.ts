/** Browser view of `ak-provider-oauth2-device-code`: the code the device shows (pre-filled from `?code=`). */
import { html } from 'lit';
import { StageElement } from '#web/base.js';
import type { OAuthDeviceCodeChallenge } from './challenge.js';

class DeviceCodeView extends StageElement<OAuthDeviceCodeChallenge> {
  override render() {
    const code = new URLSearchParams(location.search).get('code') ?? '';
    return html`<form class="ks-form" method="post" novalidate @submit=${(e: Event) => {
      e.preventDefault();
      void this.host.submit({ code: this.formValues(e.target as HTMLFormElement).code ?? '' });
    }}>
      <p>Enter the code shown on your device.</p>
      <div class="ks-field">
        <label for="code">Code</label>
        <input id="code" name="code" type="text" inputmode="numeric" autocomplete="off" autocapitalize="none" spellcheck="false" required
          .value=${code} aria-invalid=${this.errorsFor('code').length ? 'true' : 'false'} aria-describedby=${this.describedBy('code')} />
        ${this.fieldErrors('code')}
      </div>
      ${this.submitButton('Continue')}
    </form>`;
  }
}
customElements.define('ak-provider-oauth2-device-code', DeviceCodeView);
