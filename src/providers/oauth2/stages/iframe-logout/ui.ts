/**
 * Browser view of `ak-provider-iframe-logout`: each logout URL in a hidden iframe; when all have loaded (or after
 * five seconds) the flow continues.
 */
import { html } from 'lit';
import { StageElement } from '#web/base.js';
import type { IframeLogoutChallenge } from './challenge.js';

const TIMEOUT_MS = 5000;

class IframeLogoutView extends StageElement<IframeLogoutChallenge> {
  private pending = 0;
  private done = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  private finish() {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    void this.host.submit({});
  }

  private loaded = () => {
    this.pending -= 1;
    if (this.pending <= 0) this.finish();
  };

  override firstUpdated() {
    this.pending = this.challenge.logout_urls.length;
    this.timer = setTimeout(() => this.finish(), TIMEOUT_MS);
    if (this.pending === 0) this.finish();
  }

  override render() {
    return html`<div class="ks-form" role="status">
      <p>Logging out of ${this.challenge.logout_urls.length === 1 ? 'an application' : `${this.challenge.logout_urls.length} applications`}…</p>
      ${this.challenge.logout_urls.map(
        (u) =>
          html`<iframe hidden title=${`Logout ${u.provider_name ?? ''}`} src=${u.url} sandbox="allow-scripts allow-same-origin allow-forms" @load=${this.loaded}></iframe>`,
      )}
    </div>`;
  }
}
customElements.define('ak-provider-iframe-logout', IframeLogoutView);
