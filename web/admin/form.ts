/**
 * `<ks-admin-form>`: one object of a resource, as a form made from its request schema — a new one (POST to the list
 * path, the schema's defaults and the place's `prefill` filled in), an existing one (PATCH of the fields changed;
 * a secret left empty stays as stored), deleted after a confirmation, or a path holding one object
 * (`/admin/settings/`: PATCH to the path). A 400's field errors appear under their fields. An object nothing can
 * change (an event) is shown read-only. Under an existing object: its bindings (nav.ts RELATED).
 */
import { LitElement, html, nothing, type TemplateResult } from 'lit';
import { api, ApiError } from '#web/api.js';
import { type Field, fieldsOf, idOf, inputOf, labelOf, objectPath, resourceAt, fieldValue, cellOf, type OpenApi } from './openapi.js';
import { listHref, objectHref } from './routes.js';
import { messageOf } from './list.js';
import { RELATED } from './nav.js';
import { forgetOptions, type Option, optionsOf, relationOf } from './relations.js';
import './list.js';

type Input = string | boolean | string[];

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

  private read(form: HTMLFormElement, f: Field): Input {
    const el = form.elements.namedItem(f.name);
    if (f.kind === 'boolean' && !f.relation) return (el as HTMLInputElement).checked;
    if (f.kind === 'multiselect' || f.relation?.many) return [...(el as HTMLSelectElement).selectedOptions].map((o) => o.value);
    return (el as HTMLInputElement).value;
  }

  private async submit(e: Event) {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const body: Record<string, unknown> = {};
    const errors: Record<string, string[]> = {};
    for (const f of this.fields) {
      const now = this.read(form, f);
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
        this.dispatchEvent(new CustomEvent('ks-notice', { detail: 'Created.', bubbles: true }));
        location.hash = r.detail ? objectHref(this.list, idOf(r, made)) : listHref(this.list);
      }
    } catch (err) {
      this.errors = err instanceof ApiError && err.status === 400 ? this.errorsOf(err.body) : { detail: [messageOf(err)] };
    } finally {
      this.busy = false;
    }
  }

  private errorsOf(body: unknown): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    const known = new Set(this.fields.map((f) => f.name));
    for (const [k, v] of Object.entries((body ?? {}) as Record<string, unknown>)) {
      const msgs = (Array.isArray(v) ? v : [v]).map((m) => (typeof m === 'string' ? m : JSON.stringify(m)));
      const key = known.has(k) ? k : 'non_field_errors';
      out[key] = [
        ...(out[key] ?? []),
        ...(known.has(k) || k === 'non_field_errors' || k === 'detail' ? msgs : msgs.map((m) => `${k}: ${m}`)),
      ];
    }
    return out;
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

  private input(f: Field): TemplateResult {
    const id = `ks-field-${f.name}`;
    const value = this.initial(f);
    const invalid = this.errors[f.name] ? 'true' : 'false';
    const described = this.errors[f.name] ? `${id}-error` : nothing;
    const required = f.required && !(this.obj && f.writeOnly);
    if (f.relation) {
      const chosen = Array.isArray(value) ? value : [String(value)];
      const options = [...(this.options[f.relation.list] ?? [])];
      // a value the first pages do not hold (or before they are read) stays choosable
      for (const v of chosen) if (v !== '' && !options.some((o) => o.value === v)) options.push({ value: v, text: v });
      return html`<label for=${id}>${f.label}</label>
        <select id=${id} name=${f.name} ?multiple=${f.relation.many} aria-invalid=${invalid} aria-describedby=${described} ?required=${required}>
          ${f.relation.many ? nothing : html`<option value="" ?selected=${value === ''}>—</option>`}
          ${options.map((o) => html`<option value=${o.value} ?selected=${chosen.includes(o.value)}>${o.text}</option>`)}
        </select>`;
    }
    switch (f.kind) {
      case 'boolean':
        return html`<div class="ks-check"><input id=${id} name=${f.name} type="checkbox" .checked=${value as boolean} aria-invalid=${invalid} aria-describedby=${described} /><label for=${id}>${f.label}</label></div>`;
      case 'select':
        return html`<label for=${id}>${f.label}</label>
          <select id=${id} name=${f.name} aria-invalid=${invalid} aria-describedby=${described} ?required=${required}>
            ${!required || value === '' ? html`<option value="" ?selected=${value === ''}>—</option>` : nothing}
            ${f.options!.map((o) => html`<option value=${o} ?selected=${o === value}>${o}</option>`)}
          </select>`;
      case 'multiselect':
        return html`<label for=${id}>${f.label}</label>
          <select id=${id} name=${f.name} multiple aria-invalid=${invalid} aria-describedby=${described}>
            ${f.options!.map((o) => html`<option value=${o} ?selected=${(value as string[]).includes(o)}>${o}</option>`)}
          </select>`;
      case 'textarea':
      case 'json':
        return html`<label for=${id}>${f.label}${f.kind === 'json' ? html` <span class="ks-muted">(JSON)</span>` : nothing}</label>
          <textarea id=${id} name=${f.name} rows=${f.kind === 'json' ? 4 : 6} .value=${value as string} aria-invalid=${invalid} aria-describedby=${described} ?required=${required}></textarea>`;
      default: {
        const type = { password: 'password', number: 'number', datetime: 'datetime-local', text: 'text' }[f.kind as string] ?? 'text';
        return html`<label for=${id}>${f.label}</label>
          <input id=${id} name=${f.name} type=${type} .value=${value as string} autocomplete=${f.kind === 'password' ? 'new-password' : 'off'}
            placeholder=${this.obj && f.writeOnly ? 'Unchanged' : ''} aria-invalid=${invalid} aria-describedby=${described} ?required=${required} />`;
      }
    }
  }

  /** an object nothing can change: its fields as a list */
  private readOnly(): TemplateResult {
    if (!this.obj) return html``;
    return html`<dl class="ks-admin-details">
      ${Object.entries(this.obj).map(([k, v]) => html`<dt>${labelOf(k)}</dt><dd>${typeof v === 'object' && v !== null ? html`<pre>${JSON.stringify(v, null, 2)}</pre>` : cellOf(v)}</dd>`)}
    </dl>`;
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
    const top = [...(this.errors.detail ?? []), ...(this.errors.non_field_errors ?? [])];
    const existing = this.objectId !== undefined || !!this.single;
    const canDelete = !this.single && this.objectId !== undefined && resourceAt(this.doc, this.list).remove;
    return html`<h1>${this.heading}</h1>
      ${this.notice ? html`<p class="ks-note" role="status">${this.notice}</p>` : nothing}
      ${top.length ? html`<div class="ks-alert" role="alert">${top.map((m) => html`<p>${m}</p>`)}</div>` : nothing}
      ${
        existing && !this.obj
          ? nothing
          : this.editable
            ? html`<form class="ks-form ks-admin-form" novalidate @submit=${(e: Event) => void this.submit(e)}>
                ${this.fields.map(
                  (f) => html`<div class="ks-field">
                    ${this.input(f)}
                    ${f.description ? html`<p class="ks-muted ks-help">${f.description}</p>` : nothing}
                    ${this.errors[f.name] ? html`<p class="ks-field-error" id="ks-field-${f.name}-error">${this.errors[f.name].join(' ')}</p>` : nothing}
                  </div>`,
                )}
                <div class="ks-admin-actions">
                  <button class="ks-primary" type="submit" ?disabled=${this.busy}>${existing ? 'Save' : 'Create'}</button>
                  ${canDelete ? html`<button class="ks-danger" type="button" @click=${() => void this.deleteObject()}>Delete</button>` : nothing}
                </div>
              </form>`
            : html`${this.readOnly()}${canDelete ? html`<button class="ks-danger" type="button" @click=${() => void this.deleteObject()}>Delete</button>` : nothing}`
      }
      ${this.related()}`;
  }
}
customElements.define('ks-admin-form', AdminForm);
