/** Framework challenges: access denied, flow error, and anything this build cannot render. */
import { html } from 'lit';
import { StageElement } from '#web/base.js';
import type { AccessDeniedChallenge, FlowErrorChallenge } from '../../src/flows/engine/challenge-types.js';

class AccessDenied extends StageElement<AccessDeniedChallenge> {
  override render() {
    return html`${this.userHeader()}
      <div class="ks-alert" role="alert"><strong>Request has been denied.</strong> <span>${this.challenge.error_message || 'Unknown error'}</span></div>
      <p><a class="ks-link" href=${location.pathname}>Start again</a></p>`;
  }
}
customElements.define('ak-stage-access-denied', AccessDenied);

class FlowErrorView extends StageElement<FlowErrorChallenge> {
  override render() {
    return html`<div class="ks-alert" role="alert">
        <strong>Something went wrong.</strong>
        ${this.challenge.error ? html`<span>${this.challenge.error}</span>` : ''}
        <p class="ks-muted">Request ID: <code>${this.challenge.request_id}</code></p>
        ${this.challenge.traceback ? html`<pre class="ks-traceback">${this.challenge.traceback}</pre>` : ''}
      </div>
      <p><a class="ks-link" href=${location.pathname + location.search}>Try again</a></p>`;
  }
}
customElements.define('ak-stage-flow-error', FlowErrorView);

class UnknownChallenge extends StageElement {
  override render() {
    return html`<div class="ks-alert" role="alert">This step (${this.challenge.component}) cannot be shown by this page.</div>`;
  }
}
customElements.define('ks-unknown-challenge', UnknownChallenge);
