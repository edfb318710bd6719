/** /if/user/: who is logged in, and a logout link (the default invalidation flow). */
import { LitElement, html } from 'lit';

class UserPage extends LitElement {
  static override properties = {
    me: { state: true },
    failed: { state: true },
    brandTitle: { type: String, attribute: 'brand-title' },
    brandLogo: { type: String, attribute: 'brand-logo' },
  };
  /** the request's brand (src/ui/routes.ts sets both) */
  declare brandTitle: string;
  declare brandLogo: string;
  declare me: Record<string, any> | undefined;
  declare failed: boolean;

  protected override createRenderRoot() {
    return this;
  }

  override async connectedCallback() {
    super.connectedCallback();
    try {
      const res = await fetch('/api/v3/core/users/me/', { credentials: 'same-origin', headers: { accept: 'application/json' } });
      if (res.ok) this.me = ((await res.json()) as { user: Record<string, any> }).user;
      else this.failed = true;
    } catch {
      this.failed = true;
    }
  }

  override render() {
    if (this.failed)
      return html`<main class="ks-card"><h1 class="ks-title">You are not logged in</h1><p><a class="ks-primary ks-button-link" href="/flows/-/default/authentication/?next=/if/user/">Log in</a></p></main>`;
    if (!this.me) return html`<main class="ks-card"><p role="status">Loading…</p></main>`;
    const u = this.me;
    return html`<main class="ks-card">
      <header class="ks-brand">${
        this.brandLogo
          ? html`<img class="ks-brand-logo" src=${this.brandLogo} alt=${this.brandTitle || 'Keystage'} />`
          : html`<span class="ks-logo" aria-hidden="true">◆</span> ${this.brandTitle || 'Keystage'}`
      }</header>
      <h1 class="ks-title">Welcome, ${u.name || u.username}</h1>
      <div class="ks-user"><img src=${u.avatar} alt="" width="48" height="48" /><div>
        <p>Signed in as <strong id="ks-username">${u.username}</strong></p>
        ${u.email ? html`<p class="ks-muted">${u.email}</p>` : ''}
      </div></div>
      <p><a id="ks-logout" class="ks-primary ks-button-link" href="/flows/-/default/invalidation/">Log out</a></p>
    </main>`;
  }
}
customElements.define('ks-user-page', UserPage);
