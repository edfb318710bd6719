/**
 * A field's input, as the admin interface's forms show it (an object's form, an action's): its label, the control for
 * its kind (relations.ts's choices for a field naming other objects), its help and its errors; and the value read back.
 */
import { html, nothing, type TemplateResult } from 'lit';
import type { Field } from './openapi.js';
import type { Option } from './relations.js';

export type Input = string | boolean | string[];

export interface FieldState {
  /** the control's id (its error's is `<id>-error`) */
  id: string;
  value: Input;
  errors?: string[];
  /** a relation's choices, once read */
  options?: Option[];
  required: boolean;
  /** a stored secret an empty input leaves as it is */
  secretKept: boolean;
}

function control(f: Field, st: FieldState): TemplateResult {
  const { id, value, required } = st;
  const invalid = st.errors ? 'true' : 'false';
  const described = st.errors ? `${id}-error` : nothing;
  if (f.relation) {
    const chosen = Array.isArray(value) ? value : [String(value)];
    const options = [...(st.options ?? [])];
    // a value the first pages do not hold (or before they are read) stays choosable
    for (const v of chosen) if (v !== '' && !options.some((o) => o.value === v)) options.push({ value: v, text: v });
    return html`<label for=${id}>${f.label}</label>
      <select id=${id} name=${f.name} ?multiple=${f.relation.many} aria-invalid=${invalid} aria-describedby=${described} ?required=${required}>
        ${f.relation.many ? nothing : html`<option value="" ?selected=${value === ''}>—</option>`}
        ${options.map((o) => html`<option value=${o.value} ?selected=${chosen.includes(o.value)}>${o.text}</option>`)}
      </select>`;
  }
  switch (f.kind) {
    case 'file':
      return html`<label for=${id}>${f.label}</label>
        <input id=${id} name=${f.name} type="file" aria-invalid=${invalid} aria-describedby=${described} ?required=${required} />`;
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
          placeholder=${st.secretKept ? 'Unchanged' : ''} aria-invalid=${invalid} aria-describedby=${described} ?required=${required} />`;
    }
  }
}

export function renderField(f: Field, st: FieldState): TemplateResult {
  return html`<div class="ks-field">
    ${control(f, st)}
    ${f.description ? html`<p class="ks-muted ks-help">${f.description}</p>` : nothing}
    ${st.errors ? html`<p class="ks-field-error" id=${`${st.id}-error`}>${st.errors.join(' ')}</p>` : nothing}
  </div>`;
}

/** what the control holds now */
export function readField(form: HTMLFormElement, f: Field): Input {
  const el = form.elements.namedItem(f.name);
  if (f.kind === 'boolean' && !f.relation) return (el as HTMLInputElement).checked;
  if (f.kind === 'multiselect' || f.relation?.many) return [...(el as HTMLSelectElement).selectedOptions].map((o) => o.value);
  return (el as HTMLInputElement).value;
}

/** a 400's body by field (authentik's `{field: ["message"]}`); what no field holds goes to `non_field_errors` */
export function errorsOf(body: unknown, fields: Field[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const known = new Set(fields.map((f) => f.name));
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

/** what no field holds (`detail`, `non_field_errors`) above the form */
export function topErrors(errors: Record<string, string[]>): TemplateResult | typeof nothing {
  const top = [...(errors.detail ?? []), ...(errors.non_field_errors ?? [])];
  return top.length ? html`<div class="ks-alert" role="alert">${top.map((m) => html`<p>${m}</p>`)}</div>` : nothing;
}
