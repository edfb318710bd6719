/**
 * <ak-flow-executor>: drives /api/v3/flows/executor/{slug}/ as authentik's web client does — render the challenge by
 * `component`, POST responses, navigate on xak-flow-redirect — by the short path Keystage's own page takes: the first
 * challenge comes inside the page (src/ui/routes.ts), so nothing is fetched after loading, and each POST carries
 * `X-Keystage-Inline: 1`, which has the executor answer with the next challenge instead of a 302 to a GET. Without an
 * embedded challenge (the server could not run the first GET) the page GETs it.
 */
import { LitElement, html, nothing } from 'lit';
import { cookie, type Challenge, type ExecutorHost, type StageElement } from '#web/base.js';

/** where flow pages of one browser tell each other that a flow ended */
const FLOW_CHANNEL = 'keystage-flows';

export class FlowExecutor extends LitElement implements ExecutorHost {
  static override properties = {
    slug: { type: String },
    brandTitle: { type: String, attribute: 'brand-title' },
    brandLogo: { type: String, attribute: 'brand-logo' },
    continuousLogin: { type: Boolean, attribute: 'continuous-login' },
    challenge: { state: true },
    busy: { state: true },
    networkError: { state: true },
  };
  declare slug: string;
  /** the request's brand (src/ui/routes.ts sets both) */
  declare brandTitle: string;
  declare brandLogo: string;
  /**
   * the system settings' flag `flows_continuous_login` (or the older `flows_refresh_others`): when a flow ends in
   * another tab of this browser, this tab starts its flow again (the person may be logged in now)
   */
  declare continuousLogin: boolean;
  declare challenge: Challenge | undefined;
  private channel: BroadcastChannel | undefined;
  declare busy: boolean;
  declare networkError: boolean;
  private lastRequest: { method: 'GET' | 'POST'; body?: Record<string, unknown> } = { method: 'GET' };

  constructor() {
    super();
    this.busy = false;
    this.networkError = false;
    this.brandTitle = 'Keystage';
    this.brandLogo = '';
    this.continuousLogin = false;
  }

  protected override createRenderRoot() {
    return this;
  }

  override connectedCallback() {
    super.connectedCallback();
    const first = this.embeddedChallenge();
    if (first) void this.show(first);
    else void this.request('GET');
    if (this.continuousLogin && typeof BroadcastChannel === 'function') {
      this.channel = new BroadcastChannel(FLOW_CHANNEL);
      this.channel.onmessage = () => {
        if (!this.busy) location.reload();
      };
    }
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    this.channel?.close();
  }

  /** the first challenge the page was served with, read once */
  private embeddedChallenge(): Challenge | undefined {
    const el = document.getElementById('ks-first-challenge');
    if (!el) return undefined;
    el.remove();
    try {
      return JSON.parse(el.textContent ?? '') as Challenge;
    } catch {
      return undefined;
    }
  }

  private get url() {
    return `/api/v3/flows/executor/${encodeURIComponent(this.slug)}/?query=${encodeURIComponent(location.search.replace(/^\?/, ''))}`;
  }

  private async send(method: 'GET' | 'POST', body?: Record<string, unknown>): Promise<Challenge> {
    const res = await fetch(this.url, {
      method,
      credentials: 'same-origin',
      headers: {
        accept: 'application/json',
        ...(body ? { 'content-type': 'application/json' } : {}),
        'x-authentik-csrf': cookie('authentik_csrf'),
        // the next challenge in this answer, not behind a 302 (src/flows/engine/executor.ts, INLINE_HEADER)
        'x-keystage-inline': '1',
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (res.status === 404) return { component: 'ak-stage-access-denied', error_message: 'This flow does not exist.' };
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return (await res.json()) as Challenge;
  }

  async request(method: 'GET' | 'POST', body?: Record<string, unknown>) {
    this.lastRequest = { method, body };
    this.busy = true;
    this.networkError = false;
    try {
      await this.show(await this.send(method, body));
    } catch {
      this.busy = false;
      this.networkError = true;
      await this.updateComplete;
      this.querySelector<HTMLButtonElement>('#ks-retry')?.focus();
    }
  }

  private async show(challenge: Challenge) {
    if (challenge.component === 'xak-flow-redirect') {
      this.showRedirect(challenge);
      return;
    }
    this.challenge = challenge;
    this.busy = false;
    await this.updateComplete;
    this.applyFlowInfo();
    const view = this.querySelector<StageElement>('[data-stage]');
    if (view) {
      await view.updateComplete;
      view.focusFirst();
    }
  }

  private showRedirect(challenge: Challenge) {
    const to = String(challenge.to ?? '/');
    // a flow this tab answered has ended: other tabs of this browser may start theirs again (continuousLogin)
    if (this.lastRequest.method === 'POST' && typeof BroadcastChannel === 'function') {
      const channel = new BroadcastChannel(FLOW_CHANNEL);
      channel.postMessage({ ended: this.slug });
      channel.close();
    }
    if (/^(https?:)?\/\//i.test(to) || to.startsWith('/')) {
      location.assign(to);
    } else {
      this.challenge = { component: 'ks-closable' };
      this.busy = false;
    }
  }

  private applyFlowInfo() {
    const info = this.challenge?.flow_info;
    if (!info) return;
    // authentik: the flow's title, then the brand's
    document.title = info.title ? `${info.title} - ${this.brandTitle}` : this.brandTitle;
    document.body.dataset.layout = info.layout || 'stacked';
    const bg = info.background ? `url("${String(info.background).replace(/"/g, '%22')}")` : '';
    document.body.style.setProperty('--ks-background', bg);
  }

  submit(data: Record<string, unknown>): Promise<void> {
    return this.request('POST', { ...data, component: this.challenge?.component });
  }

  fireAndForget(data: Record<string, unknown>): void {
    void this.send('POST', { ...data, component: this.challenge?.component }).catch(() => undefined);
  }

  /** one view element per challenge: re-renders (busy changes) keep what the person typed */
  private view: { challenge: Challenge; el: StageElement } | undefined;

  private renderChallenge() {
    const c = this.challenge;
    if (!c) return html`<p class="ks-loading" role="status"><span class="ks-spinner" aria-hidden="true"></span> Loading…</p>`;
    if (c.component === 'ks-closable') return html`<p role="status">You may close this page now.</p>`;
    if (this.view?.challenge !== c) {
      const tag = customElements.get(c.component) ? c.component : 'ks-unknown-challenge';
      const el = document.createElement(tag) as StageElement;
      el.setAttribute('data-stage', c.component);
      el.host = this;
      el.challenge = c;
      this.view = { challenge: c, el };
    }
    this.view.el.busy = this.busy;
    return this.view.el;
  }

  override render() {
    const title = this.challenge?.flow_info?.title;
    return html`<main class="ks-card" aria-busy=${this.busy ? 'true' : 'false'}>
      <header class="ks-brand">${
        this.brandLogo
          ? html`<img class="ks-brand-logo" src=${this.brandLogo} alt=${this.brandTitle} />`
          : html`<span class="ks-logo" aria-hidden="true">◆</span> ${this.brandTitle}`
      }</header>
      ${title ? html`<h1 class="ks-title">${title}</h1>` : nothing}
      ${
        this.networkError
          ? html`<div class="ks-alert" role="alert">
            <p>We could not reach the server. Check your connection and try again.</p>
            <button id="ks-retry" class="ks-primary" @click=${() => this.request(this.lastRequest.method, this.lastRequest.body)}>Retry</button>
          </div>`
          : nothing
      }
      ${this.renderChallenge()}
    </main>`;
  }

  override updated() {
    // keep the busy state of the current view in sync without re-creating it
    const view = this.querySelector<StageElement>('[data-stage]');
    if (view && view.busy !== this.busy) view.busy = this.busy;
  }
}
customElements.define('ak-flow-executor', FlowExecutor);
