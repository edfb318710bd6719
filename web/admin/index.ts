/**
 * /if/admin/: the admin interface. `<ks-admin>` reads the API's OpenAPI document once (/api/v3/schema/), so its lists,
 * forms and operations are those of every resource the server serves (openapi.ts; list.ts, form.ts, action.ts), under
 * authentik's sidebar (nav.ts); the place is the URL's fragment (routes.ts). The server lets in only superusers and holders of `access_admin_interface`
 * (src/ui/admin-page.ts); should the session end, the page goes to the login and back.
 */
import { LitElement, html, nothing } from 'lit';
import { api, ApiError, loginThen } from '#web/api.js';
import type { OpenApi } from './openapi.js';
import { labelOf, resourceAt, typeNameOf } from './openapi.js';
import { NAV, PAGES } from './nav.js';
import { placeOf, type Place, listHref } from './routes.js';
import './list.js';
import './form.js';
import './overview.js';
import './reviews.js';
import './admin.css';

const ADMIN = '/if/admin/';

/** a list path's name: the sidebar's, else its last words (`/stages/prompt/prompts/` → Prompts) */
const nameOf = (list: string) => {
  for (const s of NAV) for (const e of s.entries) if (e.path === list) return e.label;
  const parts = list.split('/').filter(Boolean);
  const last = parts[parts.length - 1] === 'all' ? parts[parts.length - 2] : parts[parts.length - 1];
  return labelOf(last ?? list);
};

class Admin extends LitElement {
  static override properties = {
    brandTitle: { type: String, attribute: 'brand-title' },
    doc: { state: true },
    me: { state: true },
    place: { state: true },
    failed: { state: true },
    notice: { state: true },
  };
  declare brandTitle: string;
  declare doc: OpenApi | undefined;
  declare me: { username: string } | undefined;
  declare place: Place | undefined;
  declare failed: string | undefined;
  declare notice: string | undefined;
  private readonly onHash = () => this.route();

  protected override createRenderRoot() {
    return this;
  }

  override connectedCallback() {
    super.connectedCallback();
    addEventListener('hashchange', this.onHash);
    // a notice (created, deleted) is for the place the form goes to next
    this.addEventListener('ks-notice', (e) => (this.pending = (e as CustomEvent<string>).detail));
    void this.load();
  }

  override disconnectedCallback() {
    removeEventListener('hashchange', this.onHash);
    super.disconnectedCallback();
  }

  private async load() {
    try {
      const me = await api<{ user: { username: string } }>('/core/users/me/');
      this.me = me.user;
      const res = await fetch('/api/v3/schema/?format=json', { credentials: 'same-origin' });
      if (!res.ok) throw new ApiError(res.status);
      this.doc = (await res.json()) as OpenApi;
      this.route();
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) location.assign(loginThen(`${ADMIN}${location.hash}`));
      else this.failed = 'The admin interface could not load. Reload the page to try again.';
    }
  }

  private route() {
    if (!this.doc) return;
    this.place = placeOf(this.doc, location.hash);
    this.notice = this.pending;
    this.pending = undefined;
    document.title = `${this.heading()} – ${this.brandTitle ?? 'Keystage'}`;
    this.querySelector('main')?.focus();
  }
  private pending: string | undefined;

  private heading(): string {
    const p = this.place;
    if (!p) return 'Admin';
    switch (p.view) {
      case 'overview':
        return 'Overview';
      case 'reviews':
        return 'Reviews';
      case 'list':
        return nameOf(p.list);
      case 'new':
        return `New ${typeNameOf(resourceAt(this.doc!, p.list)) || nameOf(p.list)}`;
      case 'object':
        return `${typeNameOf(resourceAt(this.doc!, p.list)) || nameOf(p.list)}: ${p.id}`;
      case 'single':
        return nameOf(p.path);
      default:
        return 'Not found';
    }
  }

  private view() {
    const p = this.place;
    const doc = this.doc!;
    if (!p) return nothing;
    switch (p.view) {
      case 'overview':
        return html`<ks-admin-overview .doc=${doc}></ks-admin-overview>`;
      case 'reviews':
        return html`<ks-admin-reviews></ks-admin-reviews>`;
      case 'list':
        return html`<ks-admin-list .doc=${doc} list=${p.list} heading=${this.heading()}></ks-admin-list>`;
      case 'new':
        return html`<ks-admin-form .doc=${doc} list=${p.list} .prefill=${p.prefill} heading=${this.heading()}></ks-admin-form>`;
      case 'object':
        return html`<ks-admin-form .doc=${doc} list=${p.list} object-id=${p.id} heading=${this.heading()}></ks-admin-form>`;
      case 'single':
        return html`<ks-admin-form .doc=${doc} single=${p.path} heading=${this.heading()}></ks-admin-form>`;
      default:
        return html`<h1>Not found</h1><p>Nothing is at <code>${p.path}</code>. <a href="#/overview">Overview</a></p>`;
    }
  }

  private nav() {
    const doc = this.doc!;
    const here = this.place && 'list' in this.place ? this.place.list : this.place?.view === 'single' ? this.place.path : this.place?.view;
    return html`<nav class="ks-admin-nav" aria-label="Admin">
      ${NAV.map((s) => {
        const entries = s.entries.filter((e) => {
          const needs = e.path in PAGES ? PAGES[e.path] : e.path;
          return needs === null || doc.paths[needs] !== undefined;
        });
        return entries.length
          ? html`<h2>${s.section}</h2>
              <ul>
                ${entries.map((e) => html`<li><a href=${e.path in PAGES ? `#/${e.path}` : listHref(e.path)} aria-current=${here === e.path ? 'page' : 'false'}>${e.label}</a></li>`)}
              </ul>`
          : nothing;
      })}
    </nav>`;
  }

  override render() {
    if (this.failed) return html`<main class="ks-admin-main"><p class="ks-alert" role="alert">${this.failed}</p></main>`;
    if (!this.doc || !this.me) return html`<main class="ks-admin-main"><p aria-busy="true">Loading…</p></main>`;
    return html`<header class="ks-admin-header">
        <span class="ks-admin-brand">${this.brandTitle} · Admin</span>
        <span class="ks-admin-who">
          <span id="ks-admin-username">${this.me.username}</span>
          <a href="/if/user/">User interface</a>
          <a href="/flows/-/default/invalidation/">Log out</a>
        </span>
      </header>
      <div class="ks-admin-body">
        ${this.nav()}
        <main class="ks-admin-main" tabindex="-1">
          ${this.notice ? html`<p class="ks-note" role="status">${this.notice}</p>` : nothing}
          ${this.view()}
        </main>
      </div>`;
  }
}
customElements.define('ks-admin', Admin);
