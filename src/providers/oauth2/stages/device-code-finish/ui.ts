/** Browser view of `ak-provider-oauth2-device-code-finish`: the device is signed in. */
import { html } from 'lit';
import { StageElement } from '#web/base.js';
import type { OAuthDeviceCodeFinishChallenge } from './challenge.js';

class DeviceCodeFinishView extends StageElement<OAuthDeviceCodeFinishChallenge> {
  override render() {
    return html`<div class="ks-form">
      <p><strong>You've successfully authenticated your device.</strong></p>
      <p>You can close this tab now.</p>
    </div>`;
  }
}
customElements.define('ak-provider-oauth2-device-code-finish', DeviceCodeFinishView);
