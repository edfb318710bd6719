/**
 * `<ks-admin-form>`: one object of a resource, as a form made from its request schema — a new one (POST to the list
 * path, the schema's defaults and the place's `prefill` filled in), an existing one (PATCH of the fields changed;
 * a secret left empty stays as stored), deleted after a confirmation, or a path holding one object
 * (`/admin/settings/`: PATCH to the path). A 400's field errors appear under their fields. An object nothing can
 * change (an event) is shown read-only. Under an existing object: its bindings (nav.ts RELATED).
 */
import { repeat } from 'lit/directives/repeat.js';
import { LitElement, html, nothing, type TemplateResult } from 'lit';
import { api, ApiError, messageOf } from '#web/api.js';
import {
  actionsOf,
  type Field,
  fieldsOf,
  idOf,
  inputOf,
  labelOf,
  objectPath,
  resourceAt,
  fieldValue,
  cellOf,
  type OpenApi,
} from './openapi.js';
import { listHref, objectHref } from './routes.js';
import { RELATED } from './nav.js';
import { errorsOf, type Input, readField, renderField, topErrors } from './fields.js';
import { forgetOptions, type Option, optionsOf, relationOf } from './relations.js';
import './list.js';
import './action.js';

export class AdminForm extends LitElement {
  static override properties = {
    doc: { attribute: false },
    list: { type: String },
    objectId: { type: String, attribute: 'object-id' },
    single: { type: String },
    prefill: { attribute: false },
    heading: { type: String },
    obj: { state: true },
    options: { state: true },
    errors: { state: true },
    notice: { state: true },
    busy: { state: true },
  };
  declare doc: OpenApi;
  /** the resource's list path; with `objectId` an existing object, without it a new one */
  declare list: string;
  declare objectId: string | undefined;
  /** a path holding one object (no list) */
  declare single: string | undefined;
  declare prefill: Record<string, string>;
  declare heading: string;
  declare obj: Record<string, unknown> | undefined;
  /** a relation's options by its list path */
  declare options: Record<string, Option[]>;
  /** field → messages (a 400's body), `non_field_errors` and `detail` at the top */
  declare errors: Record<string, string[]>;
  declare notice: string | undefined;
  declare busy: boolean;

  constructor() {
    super();
    this.prefill = {};
    this.options = {};
    this.errors = {};
    this.busy = false;
  }

  protected override createRenderRoot() {
    return this;
  }

  private get path(): string | undefined {
    if (this.single) return this.single;
    if (this.objectId === undefined) return undefined;
    return objectPath(resourceAt(this.doc, this.list), this.objectId);
  }

  private get fields(): Field[] {
    if (this.single) {
      const ops = this.doc.paths[this.single];
      const body = Object.values((ops.patch ?? ops.put)?.requestBody?.content ?? {})[0]?.schema?.$ref;
      return fieldsOf(this.doc, body?.split('/').pop());
    }
    return fieldsOf(this.doc, resourceAt(this.doc, this.list).request).map((f) => ({
      ...f,
      relation: relationOf(this.list, f, f.type, f.itemType),
    }));
  }

  /** the relations' options, each list read once */
  private loadOptions() {
    for (const f of this.fields) {
      const r = f.relation;
      if (!r || this.options[r.list]) continue;
      optionsOf(r).then(
        (o) => (this.options = { ...this.options, [r.list]: o }),
        () => undefined,
      );
    }
  }

  private get editable(): boolean {
    if (this.single) return !!(this.doc.paths[this.single].patch || this.doc.paths[this.single].put);
    const r = resourceAt(this.doc, this.list);
    return this.objectId === undefined ? r.create : r.update;
  }

  override updated(changed: Map<string, unknown>) {
    if (changed.has('list') || changed.has('objectId') || changed.has('single')) {
      this.errors = {};
      this.notice = undefined;
      void this.load();
    }
  }

  private async load() {
    this.loadOptions();
    const path = this.path;
    // another object's values (the page this element showed before) are never shown under this one's fields
    this.obj = undefined;
    if (!path) return;
    try {
      const obj = await api<Record<string, unknown>>(path);
      if (path === this.path) this.obj = obj;
    } catch (e) {
      if (path === this.path) this.errors = { detail: [messageOf(e)] };
    }
  }

  /** what the input shows now: the stored value (an existing object), else the prefill or the schema's default */
  private initial(f: Field): Input {
    if (this.obj) return f.writeOnly ? '' : inputOf(f, this.obj[f.name]);
    if (f.name in this.prefill) {
      const p = this.prefill[f.name];
      return f.kind === 'boolean' ? p === 'true' : f.kind === 'multiselect' ? p.split(',') : p;
    }
    return inputOf(f, f.default);
  }

  private async submit(e: Event) {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const body: Record<string, unknown> = {};
    const errors: Record<string, string[]> = {};
    for (const f of this.fields) {
      const now = readField(form, f);
      // an existing object: only what changed; a new one: what was filled in
      if (this.obj && JSON.stringify(now) === JSON.stringify(this.initial(f))) continue;
      try {
        const v = fieldValue(f, now);
        if (v !== undefined) body[f.name] = v;
      } catch (err) {
        errors[f.name] = [(err as Error).message];
      }
    }
    this.errors = errors;
    if (Object.keys(errors).length) return;
    this.busy = true;
    this.notice = undefined;
    try {
      if (this.path) {
        const ops = this.doc.paths[this.single ?? resourceAt(this.doc, this.list).detail ?? ''];
        this.obj = await api<Record<string, unknown>>(this.path, ops?.patch ? 'PATCH' : 'PUT', body);
        forgetOptions();
        this.notice = 'Saved.';
        // a changed slug or name moves the object: its page follows
        if (!this.single) {
          const id = idOf(resourceAt(this.doc, this.list), this.obj);
          if (id !== this.objectId) location.hash = objectHref(this.list, id);
        }
      } else {
        const made = await api<Record<string, unknown>>(this.list, 'POST', body);
        forgetOptions();
        const r = resourceAt(this.doc, this.list);
        // a create answered by a link (an access request: the request flow to run) goes there
        if (typeof made.link === 'string' && !idOf(r, made)) {
          location.assign(made.link);
          return;
        }
        this.dispatchEvent(new CustomEvent('ks-notice', { detail: 'Created.', bubbles: true }));
        location.hash = r.detail ? objectHref(this.list, idOf(r, made)) : listHref(this.list);
      }
    } catch (err) {
      this.errors = err instanceof ApiError && err.status === 400 ? errorsOf(err.body, this.fields) : { detail: [messageOf(err)] };
    } finally {
      this.busy = false;
    }
  }

  private async deleteObject() {
    const path = this.path;
    if (!path || !confirm(`Delete ${this.heading}?`)) return;
    try {
      await api(path, 'DELETE');
      forgetOptions();
      this.dispatchEvent(new CustomEvent('ks-notice', { detail: 'Deleted.', bubbles: true }));
      location.hash = listHref(this.list);
    } catch (err) {
      this.errors = { detail: [messageOf(err)] };
    }
  }

  /** an object nothing can change: its fields as a list */
  private readOnly(): TemplateResult {
    if (!this.obj) return html``;
    return html`<dl class="ks-admin-details">
      ${Object.entries(this.obj).map(([k, v]) => html`<dt>${labelOf(k)}</dt><dd>${typeof v === 'object' && v !== null ? html`<pre>${JSON.stringify(v, null, 2)}</pre>` : cellOf(v)}</dd>`)}
    </dl>`;
  }

  /** the operations under this object (openapi.ts `actionsOf`) */
  private actions() {
    if (!this.obj || this.single || this.objectId === undefined) return nothing;
    const r = resourceAt(this.doc, this.list);
    const detail = r.detail;
    if (!detail) return nothing;
    const base = objectPath(r, this.objectId);
    const acts = actionsOf(this.doc, detail, true).map((a) => ({ a, path: base + a.path.slice(detail.length) }));
    // an object of a family with an `…/all/` endpoint: the family's operations too (a policy's or mapping's test)
    const all = Object.keys(this.doc.paths).find((p) => p.startsWith(`/${this.list.split('/')[1]}/all/{`) && /\/all\/\{[^}]+\}\/$/.test(p));
    const pk = this.obj.pk;
    if (all && all !== detail && pk !== undefined)
      for (const a of actionsOf(this.doc, all, true))
        if (!acts.some((x) => x.a.name === a.name))
          acts.push({ a, path: `${all.replace(/\{[^}]+\}\/$/, '')}${encodeURIComponent(String(pk))}/${a.name}/` });
    if (!acts.length) return nothing;
    return html`<section class="ks-admin-action-list" aria-label="Actions">
      <h2>Actions</h2>
      ${repeat(
        acts,
        ({ path }) => path,
        ({ a, path }) => html`<ks-admin-action .doc=${this.doc} .action=${a} path=${path}></ks-admin-action>`,
      )}
    </section>`;
  }

  private related(): TemplateResult[] {
    if (!this.obj || this.single) return [];
    const obj = this.obj;
    return RELATED.filter((r) => r.under.test(this.list) && this.doc.paths[r.list]).map(
      (r) =>
        html`<ks-admin-list .doc=${this.doc} list=${r.list} heading=${r.label} level="2" .filters=${{ [r.field]: r.value(obj) }}></ks-admin-list>`,
    );
  }

  override render() {
    const existing = this.objectId !== undefined || !!this.single;
    const canDelete = !this.single && this.objectId !== undefined && resourceAt(this.doc, this.list).remove;
    return html`<h1>${this.heading}</h1>
      ${this.notice ? html`<p class="ks-note" role="status">${this.notice}</p>` : nothing}
      ${topErrors(this.errors)}
      ${
        existing && !this.obj
          ? nothing
          : this.editable
            ? html`<form class="ks-form ks-admin-form" novalidate @submit=${(e: Event) => void this.submit(e)}>
                ${this.fields.map((f) =>
                  renderField(f, {
                    id: `ks-field-${f.name}`,
                    value: this.initial(f),
                    errors: this.errors[f.name],
                    options: f.relation ? this.options[f.relation.list] : undefined,
                    required: f.required && !(this.obj && f.writeOnly),
                    secretKept: !!this.obj && f.writeOnly,
                  }),
                )}
                <div class="ks-admin-actions">
                  <button class="ks-primary" type="submit" ?disabled=${this.busy}>${existing ? 'Save' : 'Create'}</button>
                  ${canDelete ? html`<button class="ks-danger" type="button" @click=${() => void this.deleteObject()}>Delete</button>` : nothing}
                </div>
              </form>`
            : html`${this.readOnly()}${canDelete ? html`<button class="ks-danger" type="button" @click=${() => void this.deleteObject()}>Delete</button>` : nothing}`
      }
      ${this.actions()} ${this.related()}`;
  }
}
customElements.define('ks-admin-form', AdminForm);
