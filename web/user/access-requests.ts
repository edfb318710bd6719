/**
 * The user page's access requests (src/requests/): the applications the person may request (each request runs the
 * request flow, whose page asks for the justification), their own requests (cancel a pending one), and the requests
 * they review (approve, deny; end a grant early). authentik's fulfil link, `#/requests/access-request/<uuid>/fulfill`,
 * lands on the request in the review list.
 */
import { html, nothing } from 'lit';
import { api, dateTime } from '#web/api.js';
import { ListSection } from './sections.js';

interface App {
  pk: string;
  name: string;
  slug: string;
}

interface GrantRequest {
  uuid: string;
  status: 'created' | 'approved' | 'denied' | 'revoked';
  is_active: boolean;
  created: string;
  expires: string | null;
  created_by: { username: string; name: string } | null;
  requester_data: Record<string, unknown>;
  target_objs: { label: string; parent: { name: string } | null }[];
}

interface Lists {
  requestable: App[];
  mine: GrantRequest[];
  review: GrantRequest[];
  decided: GrantRequest[];
}

const STATUS: Record<GrantRequest['status'], string> = { created: 'Pending', approved: 'Approved', denied: 'Denied', revoked: 'Revoked' };
const what = (r: GrantRequest) =>
  r.target_objs.map((t) => (t.parent && t.parent.name !== t.label ? `${t.parent.name}: ${t.label}` : t.label)).join(', ');
const why = (r: GrantRequest) =>
  Object.entries(r.requester_data)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' · ');

/** the request a fulfil link names (`#/requests/access-request/<uuid>/fulfill`) */
const linked = () => /^#\/requests\/access-request\/([0-9a-f-]{36})\//i.exec(location.hash)?.[1];

class AccessRequests extends ListSection<Lists> {
  declare me: number;
  static override properties = { ...ListSection.properties, me: { type: Number } };

  protected async fetchItems() {
    const [requestable, mine, review, all] = await Promise.all([
      api<{ results: App[] }>('/core/applications/requestable/?page_size=100'),
      api<{ results: GrantRequest[] }>(`/requests/grant-requests/?created_by=${this.me}&page_size=100`),
      api<{ results: GrantRequest[] }>('/requests/grant-requests/pending_review/?page_size=100'),
      api<{ results: GrantRequest[] }>('/requests/grant-requests/?status=approved&page_size=100'),
    ]);
    // approved grants of others the person could review: ending one early is theirs too
    const decided = all.results.filter((r) => r.is_active && r.created_by?.username && !mine.results.some((m) => m.uuid === r.uuid));
    return [{ requestable: requestable.results, mine: mine.results, review: review.results, decided }];
  }

  private readonly onHash = () => this.requestUpdate();

  override connectedCallback() {
    super.connectedCallback();
    window.addEventListener('hashchange', this.onHash);
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    window.removeEventListener('hashchange', this.onHash);
  }

  override updated() {
    const id = linked();
    if (id) document.getElementById(`ks-review-${id}`)?.scrollIntoView({ block: 'center' });
  }

  private async ask(app: App) {
    try {
      const { link } = await api<{ link: string }>('/requests/grant-requests/', 'POST', { pbms: [app.pk] });
      location.assign(link);
    } catch {
      this.status = `Access to ${app.name} could not be requested.`;
    }
  }

  private decide(r: GrantRequest, status: 'approved' | 'denied') {
    void this.writeAndReload(
      () => api(`/requests/grant-requests/${r.uuid}/fulfill/`, 'PATCH', { status, data: {} }),
      status === 'approved' ? `You approved the request for ${what(r)}.` : `You denied the request for ${what(r)}.`,
    );
  }

  override render() {
    const l = this.items?.[0];
    if (l && !l.requestable.length && !l.mine.length && !l.review.length && !l.decided.length)
      return this.shell(html`<p>Nothing to request or review.</p>`);
    return this.shell(
      l
        ? html`${
            l.requestable.length
              ? html`<h3>Request access</h3>
                <ul class="ks-list" id="ks-requestable">
                  ${l.requestable.map(
                    (a) => html`<li><div><strong>${a.name}</strong></div>
                      <span class="ks-actions"><button type="button" class="ks-secondary" @click=${() => this.ask(a)}
                        aria-label="Request access to ${a.name}">Request access</button></span></li>`,
                  )}
                </ul>`
              : nothing
          }
          ${
            l.mine.length
              ? html`<h3>Your requests</h3>
                <ul class="ks-list" id="ks-my-requests">
                  ${l.mine.map(
                    (
                      r,
                    ) => html`<li data-request=${r.uuid}><div><strong>${what(r)}</strong> <span class="ks-badge">${r.status === 'created' && r.expires && Date.parse(r.expires) <= Date.now() ? 'Expired' : STATUS[r.status]}</span>
                      <br /><span class="ks-muted">Asked ${dateTime(r.created)}${r.expires ? html` · ${r.status === 'created' ? 'open until' : 'until'} ${dateTime(r.expires)}` : nothing}</span></div>
                      ${
                        r.status === 'created'
                          ? html`<span class="ks-actions"><button type="button" class="ks-secondary"
                              @click=${() => this.deleteAndReload(`/requests/grant-requests/${r.uuid}/`, `Your request for ${what(r)} was cancelled.`)}
                              aria-label="Cancel the request for ${what(r)}">Cancel</button></span>`
                          : nothing
                      }</li>`,
                  )}
                </ul>`
              : nothing
          }
          ${
            l.review.length
              ? html`<h3>To review</h3>
                <ul class="ks-list" id="ks-review">
                  ${l.review.map(
                    (r) => html`<li id=${`ks-review-${r.uuid}`} class=${linked() === r.uuid ? 'ks-current' : ''}>
                      <div><strong>${r.created_by?.name || r.created_by?.username}</strong> asks for <strong>${what(r)}</strong>
                        <br /><span class="ks-muted">${why(r) || 'No reason given'} · asked ${dateTime(r.created)}</span></div>
                      <span class="ks-actions">
                        <button type="button" class="ks-primary" @click=${() => this.decide(r, 'approved')} aria-label="Approve the request for ${what(r)}">Approve</button>
                        <button type="button" class="ks-secondary" @click=${() => this.decide(r, 'denied')} aria-label="Deny the request for ${what(r)}">Deny</button>
                      </span></li>`,
                  )}
                </ul>`
              : nothing
          }
          ${
            l.decided.length
              ? html`<h3>Granted access</h3>
                <ul class="ks-list" id="ks-granted">
                  ${l.decided.map(
                    (r) => html`<li><div><strong>${r.created_by?.name || r.created_by?.username}</strong>: ${what(r)}
                      <br /><span class="ks-muted">until ${dateTime(r.expires)}</span></div>
                      <span class="ks-actions"><button type="button" class="ks-secondary"
                        @click=${() => this.deleteAndReload(`/requests/grant-requests/${r.uuid}/revoke/`, `The access to ${what(r)} was ended.`)}
                        aria-label="End the access to ${what(r)}">End access</button></span></li>`,
                  )}
                </ul>`
              : nothing
          }`
        : nothing,
    );
  }
}
customElements.define('ks-access-requests', AccessRequests);
