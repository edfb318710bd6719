/**
 * <ks-settings-flow slug=…>: the brand's user settings flow run inline, as authentik's user settings executor does —
 * prompt stages are shown in the page; when the flow is done the page says so, tells the page to reload the user
 * and starts the flow again; a stage this executor does not show gets a link to the full flow page instead.
 */
import { LitElement, html, nothing } from 'lit';
import { cookie, type Challenge, type ExecutorHost, type StageElement } from '#web/base.js';
import '../../src/stages/prompt/ui.js';

/** the stages this executor shows in the page (authentik: prompt and user write, which has no challenge) */
const INLINE = new Set(['ak-stage-prompt']);

export class SettingsFlow extends LitElement implements ExecutorHost {
  static override properties = {
    slug: { type: String },
    challenge: { state: true },
    busy: { state: true },
    saved: { state: true },
    failed: { state: true },
  };
  declare slug: string;
  declare challenge: Challenge | undefined;
  declare busy: boolean;
  declare saved: boolean;
  declare failed: boolean;
  private view: { challenge: Challenge; el: StageElement } | undefined;

  constructor() {
    super();
    this.busy = false;
    this.saved = false;
    this.failed = false;
  }

  protected override createRenderRoot() {
    return this;
  }

  override connectedCallback() {
    super.connectedCallback();
    void this.request('GET');
  }

  private async request(method: 'GET' | 'POST', body?: Record<string, unknown>) {
    this.busy = true;
    this.failed = false;
    try {
      const res = await fetch(`/api/v3/flows/executor/${encodeURIComponent(this.slug)}/?query=`, {
        method,
        credentials: 'same-origin',
        headers: {
          accept: 'application/json',
          ...(body ? { 'content-type': 'application/json' } : {}),
          'x-authentik-csrf': cookie('authentik_csrf'),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const challenge = (await res.json()) as Challenge;
      if (challenge.component === 'xak-flow-redirect') {
        // done: the details were written; say so, let the page reload the user, and offer the form again
        this.dispatchEvent(new CustomEvent('ks-user-changed', { bubbles: true }));
        await this.request('GET');
        this.saved = true;
        return;
      }
      this.challenge = challenge;
    } catch {
      this.failed = true;
    } finally {
      this.busy = false;
    }
    await this.updateComplete;
    const view = this.querySelector<StageElement>('[data-stage]');
    if (view && this.challenge?.response_errors) {
      await view.updateComplete;
      view.focusFirst();
    }
  }

  submit(data: Record<string, unknown>): Promise<void> {
    this.saved = false;
    return this.request('POST', { ...data, component: this.challenge?.component });
  }

  fireAndForget(data: Record<string, unknown>): void {
    void this.submit(data);
  }

  private renderChallenge() {
    const c = this.challenge;
    if (!c) return html`<p role="status"><span class="ks-spinner" aria-hidden="true"></span> Loading…</p>`;
    if (c.component === 'ak-stage-access-denied')
      return html`<div class="ks-alert" role="alert">${String(c.error_message || 'Request has been denied.')}</div>`;
    if (!INLINE.has(c.component))
      return html`<p>Your settings need a step this page cannot show.</p>
        <p><a class="ks-primary ks-button-link" href="/if/flow/${encodeURIComponent(this.slug)}/?next=${encodeURIComponent('/if/user/')}">Open settings</a></p>`;
    if (this.view?.challenge !== c) {
      const el = document.createElement(c.component) as StageElement;
      el.setAttribute('data-stage', c.component);
      el.host = this;
      el.challenge = c;
      this.view = { challenge: c, el };
    }
    this.view.el.busy = this.busy;
    return this.view.el;
  }

  override render() {
    return html`${this.saved ? html`<div class="ks-note" role="status" id="ks-settings-saved">Successfully updated details.</div>` : nothing}
      ${this.failed ? html`<div class="ks-alert" role="alert">We could not reach the server. Reload the page and try again.</div>` : nothing}
      ${this.renderChallenge()}`;
  }

  override updated() {
    const view = this.querySelector<StageElement>('[data-stage]');
    if (view && view.busy !== this.busy) view.busy = this.busy;
  }
}
customElements.define('ks-settings-flow', SettingsFlow);
