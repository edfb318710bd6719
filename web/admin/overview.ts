/**
 * `<ks-admin-overview>`: authentik's admin dashboard in brief — the version and runtime (`/admin/version/`,
 * `/admin/system/`), how many users, groups, applications and flows there are, and the latest events.
 */
import { LitElement, html, nothing } from 'lit';
import { api } from '#web/api.js';
import type { OpenApi } from './openapi.js';
import { listHref } from './routes.js';
import './list.js';

const COUNTED = [
  { label: 'Users', list: '/core/users/' },
  { label: 'Groups', list: '/core/groups/' },
  { label: 'Applications', list: '/core/applications/' },
  { label: 'Flows', list: '/flows/instances/' },
];

export class AdminOverview extends LitElement {
  static override properties = { doc: { attribute: false }, counts: { state: true }, version: { state: true }, system: { state: true } };
  declare doc: OpenApi;
  declare counts: Record<string, number>;
  declare version: { version_current: string } | undefined;
  declare system: { runtime?: { python_version?: string; platform?: string }; base_url?: string } | undefined;

  constructor() {
    super();
    this.counts = {};
  }

  protected override createRenderRoot() {
    return this;
  }

  override connectedCallback() {
    super.connectedCallback();
    void api<{ version_current: string }>('/admin/version/').then(
      (v) => (this.version = v),
      () => undefined,
    );
    void api<AdminOverview['system']>('/admin/system/').then(
      (s) => (this.system = s),
      () => undefined,
    );
    for (const c of COUNTED)
      void api<{ pagination: { count: number } }>(`${c.list}?page_size=1`).then(
        (r) => (this.counts = { ...this.counts, [c.list]: r.pagination.count }),
        () => undefined,
      );
  }

  override render() {
    return html`<h1>Overview</h1>
      <ul class="ks-admin-cards">
        ${COUNTED.map(
          (c) =>
            html`<li class="ks-admin-card"><a href=${listHref(c.list)}><span class="ks-admin-count" data-count=${c.list}>${this.counts[c.list] ?? '…'}</span> ${c.label}</a></li>`,
        )}
        <li class="ks-admin-card">
          <span class="ks-admin-count" id="ks-version">${this.version?.version_current ?? '…'}</span> Version
          ${this.system?.runtime ? html`<p class="ks-muted">${this.system.runtime.python_version} · ${this.system.runtime.platform}</p>` : nothing}
        </li>
      </ul>
      ${this.doc.paths['/events/events/'] ? html`<ks-admin-list .doc=${this.doc} list="/events/events/" heading="Recent events" level="2" .filters=${{ ordering: '-created' }}></ks-admin-list>` : nothing}`;
  }
}
customElements.define('ks-admin-overview', AdminOverview);
