/** Browser view of `ak-stage-dummy`. */
import { html } from 'lit';
import { StageElement } from '#web/base.js';
import type { DummyChallenge } from './challenge.js';

class DummyView extends StageElement<DummyChallenge> {
  override render() {
    return html`<form class="ks-form" method="post" @submit=${(e: Event) => {
      e.preventDefault();
      void this.host.submit({});
    }}>
      <p>${this.challenge.name}</p>
      ${this.submitButton('Continue')}
    </form>`;
  }
}
customElements.define('ak-stage-dummy', DummyView);
