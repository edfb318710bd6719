/**
 * `<ks-admin-list>`: one list endpoint as a table — search (when the list takes `search`), pages of 20, a link to each
 * object (for `/…/all/` lists, to the object's own type's endpoint) and "Create" (for `/…/all/` lists, a type first,
 * from the list's `types/`). `filters` narrow it (an object's bindings), and a new object gets them as fields.
 */
import { repeat } from 'lit/directives/repeat.js';
import { LitElement, html, nothing } from 'lit';
import { api, messageOf } from '#web/api.js';
import {
  actionsOf,
  cellIn,
  columnsOf,
  idOf,
  labelOf,
  listForModel,
  resourceAt,
  typeNameOf,
  type OpenApi,
  type Resource,
} from './openapi.js';
import { newHref, objectHref } from './routes.js';
import './action.js';

interface Page {
  results: Record<string, unknown>[];
  pagination: { count: number; current: number; total_pages: number; next: number; previous: number };
}

interface TypeCreate {
  name: string;
  description: string;
  model_name: string;
}

export class AdminList extends LitElement {
  static override properties = {
    doc: { attribute: false },
    list: { type: String },
    heading: { type: String },
    filters: { attribute: false },
    level: { type: Number },
    page: { state: true },
    rows: { state: true },
    types: { state: true },
    error: { state: true },
  };
  declare doc: OpenApi;
  declare list: string;
  declare heading: string;
  declare filters: Record<string, string>;
  /** the heading's level: 1 for a page, 2 under an object */
  declare level: number;
  declare page: number;
  declare rows: Page | undefined;
  declare types: TypeCreate[] | undefined;
  declare error: string | undefined;
  private search = '';

  constructor() {
    super();
    this.filters = {};
    this.level = 1;
    this.page = 1;
  }

  protected override createRenderRoot() {
    return this;
  }

  override connectedCallback() {
    super.connectedCallback();
    // an operation run beside the list (a key pair generated) may have added to it
    this.addEventListener('ks-changed', () => void this.load());
  }

  private get resource(): Resource {
    return resourceAt(this.doc, this.list);
  }

  private get polymorphic() {
    return this.list.endsWith('/all/') && !!this.doc.paths[`${this.list}types/`];
  }

  override updated(changed: Map<string, unknown>) {
    // (filters come as a new object at each render of the page holding the list: only other values reload it)
    const filters = JSON.stringify(this.filters);
    if (changed.has('list') || filters !== this.shownFilters) {
      this.shownFilters = filters;
      if (changed.has('list')) {
        this.page = 1;
        this.search = '';
        this.types = undefined;
      }
      void this.load();
    }
  }
  private shownFilters: string | undefined;
  /** the latest load: an earlier one answering after it is dropped */
  private loading = 0;

  private async load() {
    const mine = ++this.loading;
    this.error = undefined;
    const q = new URLSearchParams({ ...this.filters, page: String(this.page), page_size: '20' });
    if (this.search) q.set('search', this.search);
    try {
      const rows = await api<Page>(`${this.list}?${q}`);
      if (mine === this.loading) this.rows = rows;
    } catch (e) {
      if (mine !== this.loading) return;
      this.rows = undefined;
      this.error = messageOf(e);
    }
  }

  private async showTypes() {
    try {
      this.types = await api<TypeCreate[]>(`${this.list}types/`);
    } catch (e) {
      this.error = messageOf(e);
    }
  }

  /** where a row leads: its own endpoint (a `/…/all/` row: its type's) */
  private hrefOf(row: Record<string, unknown>): string | undefined {
    let list = this.list;
    if (this.list.endsWith('/all/') && typeof row.meta_model_name === 'string') {
      const typed = listForModel(this.doc, row.meta_model_name);
      if (!typed) return undefined;
      list = typed;
    }
    const r = list === this.list ? this.resource : resourceAt(this.doc, list);
    return r.detail ? objectHref(list, idOf(r, row)) : undefined;
  }

  private go(page: number) {
    this.page = page;
    void this.load();
  }

  private renderHeading() {
    const text = this.heading;
    return this.level === 1 ? html`<h1>${text}</h1>` : html`<h2>${text}</h2>`;
  }

  override render() {
    const r = this.resource;
    const cols = columnsOf(this.doc, r.item);
    const canCreate = this.polymorphic || r.create;
    return html`<section class="ks-admin-list" aria-label=${this.heading}>
      <div class="ks-admin-toolbar">
        ${this.renderHeading()}
        ${
          r.query.includes('search')
            ? html`<form
                role="search"
                @submit=${(e: Event) => {
                  e.preventDefault();
                  this.search = (e.currentTarget as HTMLFormElement).querySelector('input')!.value;
                  this.go(1);
                }}
              >
                <label class="ks-sr-only" for=${`ks-search-${this.list}`}>Search ${this.heading}</label>
                <input id=${`ks-search-${this.list}`} type="search" placeholder="Search" .value=${this.search} />
                <button class="ks-secondary" type="submit">Search</button>
              </form>`
            : nothing
        }
        ${
          canCreate
            ? this.polymorphic
              ? html`<button class="ks-primary" type="button" @click=${() => void this.showTypes()}>Create</button>`
              : html`<a class="ks-primary ks-button-link" href=${newHref(this.list, this.filters)}>Create</a>`
            : nothing
        }
      </div>
      ${
        this.types
          ? html`<nav class="ks-admin-types" aria-label="Type to create">
              <ul>
                ${this.types.map((t) => {
                  const typed = listForModel(this.doc, t.model_name);
                  return typed
                    ? html`<li><a href=${newHref(typed, this.filters)}><strong>${t.name}</strong></a> <span class="ks-muted">${t.description}</span></li>`
                    : nothing;
                })}
              </ul>
            </nav>`
          : nothing
      }
      ${this.error ? html`<p class="ks-alert" role="alert">${this.error}</p>` : nothing}
      ${
        this.rows
          ? html`<div class="ks-admin-table-wrap">
                <table class="ks-admin-table">
                  <thead>
                    <tr>
                      ${cols.map((c) => html`<th scope="col">${labelOf(c)}</th>`)}
                    </tr>
                  </thead>
                  <tbody>
                    ${this.rows.results.map((row) => {
                      const href = this.hrefOf(row);
                      return html`<tr>
                        ${cols.map((c, i) =>
                          i === 0 && href ? html`<td><a href=${href}>${cellIn(row, c)}</a></td>` : html`<td>${cellIn(row, c)}</td>`,
                        )}
                      </tr>`;
                    })}
                  </tbody>
                </table>
              </div>
              ${this.rows.results.length === 0 ? html`<p class="ks-muted">Nothing here yet.</p>` : nothing}
              <nav class="ks-admin-pages" aria-label="Pages of ${this.heading}">
                <button class="ks-secondary" type="button" ?disabled=${!this.rows.pagination.previous} @click=${() => this.go(this.page - 1)}>Previous</button>
                <span>Page ${this.rows.pagination.current} of ${Math.max(1, this.rows.pagination.total_pages)} (${this.rows.pagination.count})</span>
                <button class="ks-secondary" type="button" ?disabled=${!this.rows.pagination.next} @click=${() => this.go(this.page + 1)}>Next</button>
              </nav>`
          : nothing
      }
      ${this.actions()}
    </section>`;
  }

  /**
   * operations beside the list (a key pair generated, a service account made, a blueprint uploaded): on a page of its
   * own only; an `…/all/` list has its types' too (a SAML provider imported from metadata)
   */
  private actions() {
    if (this.level !== 1) return nothing;
    const acts = actionsOf(this.doc, this.list, false);
    if (this.polymorphic) {
      const family = `/${this.list.split('/')[1]}/`;
      for (const typed of Object.keys(this.doc.paths))
        if (typed !== this.list && new RegExp(`^${family}[a-z_0-9]+/$`).test(typed) && this.doc.paths[typed].post) {
          const type = typeNameOf(resourceAt(this.doc, typed));
          for (const a of actionsOf(this.doc, typed, false)) acts.push({ ...a, label: `${type}: ${a.label}` });
        }
    }
    return acts.length
      ? html`<section class="ks-admin-action-list" aria-label="More actions">
          <h2>More actions</h2>
          ${repeat(
            acts,
            // (an element per operation: one page's open form never shows under another's)
            (a) => a.path,
            (a) => html`<ks-admin-action .doc=${this.doc} .action=${a} path=${a.path}></ks-admin-action>`,
          )}
        </section>`
      : nothing;
  }
}
customElements.define('ks-admin-list', AdminList);
