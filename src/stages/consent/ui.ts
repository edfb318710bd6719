/** Browser view of `ak-stage-consent`: what the application asks for, and a button to agree. */
import { html, nothing } from 'lit';
import { StageElement } from '#web/base.js';
import type { ConsentChallenge } from './challenge.js';

class ConsentView extends StageElement<ConsentChallenge> {
  private onSubmit(e: Event) {
    e.preventDefault();
    void this.host.submit({ token: this.challenge.token });
  }

  private list(title: string, perms: { id: string; name: string }[]) {
    if (!perms.length) return nothing;
    return html`<p>${title}</p>
      <ul class="ks-permissions">
        ${perms.map((p) => html`<li data-permission-code=${p.id}>${p.name || p.id}</li>`)}
      </ul>`;
  }

  override render() {
    const c = this.challenge;
    const hasAdditional = c.additional_permissions.length > 0;
    return html`${this.userHeader()}
      <form class="ks-form" method="post" @submit=${this.onSubmit}>
        ${c.header_text ? html`<p id="header-text">${c.header_text}</p>` : nothing}
        ${
          hasAdditional
            ? html`${this.list('Application already has access to the following permissions:', c.permissions)}
              ${this.list('Application requires following new permissions:', c.additional_permissions)}`
            : this.list('Application requires following permissions:', c.permissions)
        }
        ${this.nonFieldErrors()} ${this.submitButton('Continue')}
      </form>`;
  }
}
customElements.define('ak-stage-consent', ConsentView);
