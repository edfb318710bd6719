/** Browser view of `ak-stage-authenticator-static`: the recovery codes, with copy and download, then Continue. */
import { html } from 'lit';
import { StageElement } from '#web/base.js';
import type { AuthenticatorStaticChallenge } from './challenge.js';

class StaticSetupView extends StageElement<AuthenticatorStaticChallenge> {
  private copied = false;

  private get codes(): string[] {
    return (this.challenge.codes ?? []) as string[];
  }

  private async copy() {
    await navigator.clipboard?.writeText(this.codes.join('\n')).catch(() => undefined);
    this.copied = true;
    this.requestUpdate();
  }

  private download() {
    const url = URL.createObjectURL(new Blob([`${this.codes.join('\n')}\n`], { type: 'text/plain' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = 'recovery-codes.txt';
    a.click();
    URL.revokeObjectURL(url);
  }

  override render() {
    return html`${this.userHeader()}
      <form class="ks-form" method="post" @submit=${(e: Event) => {
        e.preventDefault();
        void this.host.submit({});
      }}>
        ${this.nonFieldErrors()}
        <p>Save these recovery codes somewhere safe. Each works once, and they will not be shown again.</p>
        <ul class="ks-codes" id="ks-static-codes">${this.codes.map((c) => html`<li><code>${c}</code></li>`)}</ul>
        <div class="ks-password">
          <button type="button" class="ks-secondary" @click=${() => this.copy()}>${this.copied ? 'Copied' : 'Copy'}</button>
          <button type="button" class="ks-secondary" @click=${() => this.download()}>Download</button>
        </div>
        ${this.submitButton('I have saved them')}
      </form>`;
  }
}
customElements.define('ak-stage-authenticator-static', StaticSetupView);
