/**
 * `<ks-admin-reviews>`: the access reviews waiting for the signed-in person (authentik's Lifecycle → Reviews): each open
 * round they may review (`/lifecycle/iterations/open/?user_is_reviewer=true`) — the object, its rule, its state, when
 * it opened and when its grace period ends, the reviews so far — with a note and "Mark as reviewed"
 * (`POST /lifecycle/reviews/`). A review taken shows "Reviewed." and the list again; a refusal shows the API's message.
 */
import { LitElement, html, nothing } from 'lit';
import { api, dateTime, messageOf } from '#web/api.js';

interface Iteration {
  id: string;
  content_type: string;
  object_verbose: string;
  state: string;
  opened_on: string;
  grace_period_end: string;
  reviews: { reviewer: { username: string }; timestamp: string; note: string | null }[];
  rule: { name: string };
  user_can_review: boolean;
}

export class AdminReviews extends LitElement {
  static override properties = {
    rounds: { state: true },
    failed: { state: true },
    errors: { state: true },
    notice: { state: true },
    busy: { state: true },
  };
  declare rounds: Iteration[] | undefined;
  declare failed: string | undefined;
  /** the refusal of a round's review, by round */
  declare errors: Record<string, string>;
  declare notice: string | undefined;
  declare busy: boolean;

  constructor() {
    super();
    this.errors = {};
    this.busy = false;
  }

  protected override createRenderRoot() {
    return this;
  }

  override connectedCallback() {
    super.connectedCallback();
    void this.load();
  }

  private async load() {
    try {
      const page = await api<{ results: Iteration[] }>('/lifecycle/iterations/open/?user_is_reviewer=true&page_size=100');
      this.rounds = page.results;
      this.failed = undefined;
    } catch (e) {
      this.failed = messageOf(e);
    }
  }

  private async review(e: Event, round: Iteration) {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const note = (form.elements.namedItem('note') as HTMLTextAreaElement).value.trim();
    this.busy = true;
    try {
      await api('/lifecycle/reviews/', 'POST', { iteration: round.id, note: note || null });
      this.errors = {};
      this.notice = `Reviewed: ${round.object_verbose}.`;
      await this.load();
    } catch (err) {
      this.errors = { ...this.errors, [round.id]: messageOf(err) };
    } finally {
      this.busy = false;
    }
  }

  private row(r: Iteration) {
    const field = `ks-review-note-${r.id}`;
    return html`<tr>
      <td>${r.object_verbose}</td>
      <td>${r.rule.name}</td>
      <td>${r.state}</td>
      <td>${dateTime(r.opened_on)}</td>
      <td>${dateTime(r.grace_period_end)}</td>
      <td>${r.reviews.length ? r.reviews.map((v) => v.reviewer.username).join(', ') : '—'}</td>
      <td>
        <form class="ks-review-form" @submit=${(e: Event) => this.review(e, r)}>
          <label for=${field}>Note</label>
          <textarea id=${field} name="note" rows="2"></textarea>
          ${this.errors[r.id] ? html`<p class="ks-alert" role="alert">${this.errors[r.id]}</p>` : nothing}
          <button type="submit" ?disabled=${this.busy}>Mark as reviewed</button>
        </form>
      </td>
    </tr>`;
  }

  override render() {
    const rounds = this.rounds;
    return html`<h1>Reviews</h1>
      ${this.notice ? html`<p class="ks-note" role="status">${this.notice}</p>` : nothing}
      ${this.failed ? html`<p class="ks-alert" role="alert">${this.failed}</p>` : nothing}
      ${
        rounds === undefined
          ? this.failed
            ? nothing
            : html`<p aria-busy="true">Loading…</p>`
          : rounds.length === 0
            ? html`<p>No reviews are waiting for you.</p>`
            : html`<div class="ks-admin-table-wrap"><table class="ks-admin-table ks-admin-reviews">
                <thead>
                  <tr>
                    <th scope="col">Object</th>
                    <th scope="col">Rule</th>
                    <th scope="col">State</th>
                    <th scope="col">Opened</th>
                    <th scope="col">Grace period ends</th>
                    <th scope="col">Reviewed by</th>
                    <th scope="col">Review</th>
                  </tr>
                </thead>
                <tbody>
                  ${rounds.map((r) => this.row(r))}
                </tbody>
              </table></div>`
      }`;
  }
}
customElements.define('ks-admin-reviews', AdminReviews);
