/**
 * `<ks-admin-action>`: one operation beside an object or a list (openapi.ts `actionsOf`) — a user's password set, a
 * recovery link made, a policy tested, a flow exported, a key pair generated — as a form from its request schema and
 * query parameters, run on "Run"; its answer shown: "Done." for no content, a link the answer holds, else the body
 * (JSON or text, as an export's YAML).
 */
import { LitElement, html, nothing } from 'lit';
import { ApiError, messageOf, request } from '#web/api.js';
import { type Action, fieldsOf, fieldValue, inputOf, type OpenApi, queryFields, type Field } from './openapi.js';
import { errorsOf, readField, renderField, topErrors } from './fields.js';
import { forgetOptions, type Option, optionsOf, relationOf } from './relations.js';

export class AdminAction extends LitElement {
  static override properties = {
    doc: { attribute: false },
    action: { attribute: false },
    path: { type: String },
    options: { state: true },
    errors: { state: true },
    answer: { state: true },
    busy: { state: true },
    open: { state: true },
  };
  declare doc: OpenApi;
  declare action: Action;
  /** the operation's path with the object filled in */
  declare path: string;
  declare options: Record<string, Option[]>;
  declare errors: Record<string, string[]>;
  declare answer: { link?: string; text?: string; done?: boolean } | undefined;
  declare busy: boolean;
  declare open: boolean;

  constructor() {
    super();
    this.options = {};
    this.errors = {};
    this.busy = false;
    this.open = false;
  }

  protected override createRenderRoot() {
    return this;
  }

  private get body(): Field[] {
    return fieldsOf(this.doc, this.action.request).map((f) => ({ ...f, relation: relationOf(this.action.path, f, f.type, f.itemType) }));
  }

  private get params(): Field[] {
    return queryFields(this.action).map((f) => ({ ...f, relation: relationOf(this.action.path, f, f.type, f.itemType) }));
  }

  private toggle(e: Event) {
    this.open = (e.currentTarget as HTMLDetailsElement).open;
    if (!this.open) return;
    for (const f of [...this.body, ...this.params]) {
      const r = f.relation;
      if (!r || this.options[r.list]) continue;
      optionsOf(r).then(
        (o) => (this.options = { ...this.options, [r.list]: o }),
        () => undefined,
      );
    }
  }

  private async run(e: Event) {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const errors: Record<string, string[]> = {};
    const read = (fields: Field[]) => {
      const out: Record<string, unknown> = {};
      for (const f of fields) {
        try {
          const v = fieldValue(f, readField(form, f));
          if (v !== undefined && v !== '') out[f.name] = v;
        } catch (err) {
          errors[f.name] = [(err as Error).message];
        }
      }
      return out;
    };
    const values = read(this.body);
    // a file upload: the same fields as form parts, each file as it was chosen
    let body: Record<string, unknown> | FormData = values;
    if (this.action.multipart) {
      const data = new FormData();
      for (const [k, v] of Object.entries(values)) for (const one of Array.isArray(v) ? v : [v]) data.append(k, String(one));
      for (const f of this.body.filter((x) => x.kind === 'file')) {
        const file = (form.elements.namedItem(f.name) as HTMLInputElement).files?.[0];
        if (file) data.append(f.name, file);
        else if (f.required) errors[f.name] = ['No file was submitted.'];
      }
      body = data;
    }
    const query = new URLSearchParams(Object.entries(read(this.params)).map(([k, v]) => [k, String(v)]));
    this.errors = errors;
    if (Object.keys(errors).length) return;
    this.busy = true;
    this.answer = undefined;
    try {
      const q = query.toString();
      const url = `${this.path}${q ? `?${q}` : ''}`;
      const res = await request(url, this.action.method === 'get' ? 'GET' : 'POST', this.action.method === 'post' ? body : undefined);
      const text = await res.text();
      const json = (() => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          return undefined;
        }
      })();
      if (!res.ok) {
        this.errors =
          res.status === 400 ? errorsOf(json, [...this.body, ...this.params]) : { detail: [messageOf(new ApiError(res.status, json))] };
        return;
      }
      // an impersonation started: this browser is now that user, whose place is the user interface (as authentik's)
      if (this.action.name === 'impersonate') {
        location.assign('/');
        return;
      }
      if (this.action.method === 'post') {
        forgetOptions();
        // (the list it was run beside shows what it made)
        this.dispatchEvent(new CustomEvent('ks-changed', { bubbles: true }));
      }
      const link = (json as { link?: unknown } | undefined)?.link;
      this.answer =
        res.status === 204 || text === ''
          ? { done: true }
          : typeof link === 'string'
            ? { link, text: JSON.stringify(json, null, 2) }
            : { text: json === undefined ? text : JSON.stringify(json, null, 2) };
    } catch (err) {
      this.errors = { detail: [messageOf(err)] };
    } finally {
      this.busy = false;
    }
  }

  override render() {
    const a = this.action;
    const id = (f: Field) => `ks-action-${a.name}-${f.name}`;
    const field = (f: Field) =>
      renderField(f, {
        id: id(f),
        value: inputOf(f, f.default),
        errors: this.errors[f.name],
        options: f.relation ? this.options[f.relation.list] : undefined,
        required: f.required,
        secretKept: false,
      });
    return html`<details class="ks-admin-action" data-action=${a.name} @toggle=${(e: Event) => this.toggle(e)}>
      <summary>${a.label}</summary>
      ${
        this.open
          ? html`<form class="ks-form" novalidate @submit=${(e: Event) => void this.run(e)}>
              ${topErrors(this.errors)}
              ${this.body.map(field)} ${this.params.map(field)}
              <div><button class="ks-primary" type="submit" ?disabled=${this.busy}>Run</button></div>
            </form>`
          : nothing
      }
      ${
        this.answer
          ? html`<div class="ks-admin-answer" role="status">
              ${this.answer.done ? html`<p>Done.</p>` : nothing}
              ${this.answer.link ? html`<p><a href=${this.answer.link}>${this.answer.link}</a></p>` : nothing}
              ${this.answer.text && !this.answer.link ? html`<pre tabindex="0">${this.answer.text}</pre>` : nothing}
            </div>`
          : nothing
      }
    </details>`;
  }
}
customElements.define('ks-admin-action', AdminAction);
