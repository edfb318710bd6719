/**
 * Browser view of `ak-stage-prompt`: one control per prompt, in the challenge's order, each with its label, help text
 * (`sub_text`) and errors linked by aria-describedby; what the person typed survives a re-render with errors
 * (passwords excepted). Static and alert fields are shown as text, never as HTML.
 */
import { html, nothing, type TemplateResult } from 'lit';
import { StageElement } from '#web/base.js';
import type { PromptChallenge, StagePrompt } from './challenge.js';

const AUTOCOMPLETE: Record<string, string> = { username: 'username', email: 'email', password: 'new-password' };
const ALERTS: Record<string, string> = { alert_info: 'ks-note', alert_warning: 'ks-note ks-warning', alert_danger: 'ks-alert' };

/**
 * what was typed before the last submit, by field key, and the fields it was typed into: the answer with errors is a
 * new challenge (a new view), which shows it again
 */
let typed: { fields: string; values: Record<string, string> } | undefined;

const signature = (c: PromptChallenge) => (c.fields ?? []).map((f) => `${f.field_key}:${f.type}`).join('|');

class PromptView extends StageElement<PromptChallenge> {
  private get typed(): Record<string, string> {
    if (!this.challenge.response_errors || typed?.fields !== signature(this.challenge)) return {};
    return typed.values;
  }

  /** after an answer with errors, the first field in error gets focus */
  override focusFirst() {
    const invalid = this.querySelector<HTMLElement>('[aria-invalid="true"]');
    if (invalid) invalid.focus();
    else super.focusFirst();
  }

  private valueOf(f: StagePrompt): string {
    const t = this.typed;
    return Object.hasOwn(t, f.field_key) ? t[f.field_key]! : f.initial_value;
  }

  private onSubmit(e: Event) {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const data: Record<string, unknown> = {};
    const values: Record<string, string> = {};
    typed = { fields: signature(this.challenge), values };
    for (const f of this.challenge.fields) {
      const k = f.field_key;
      const el = form.elements.namedItem(k) as unknown as { value?: string; checked?: boolean; dataset?: DOMStringMap } | null;
      if (f.type === 'checkbox') data[k] = el?.checked ?? false;
      else if (f.type === 'file') {
        const v = el?.dataset?.uri;
        if (v) data[k] = v;
      } else if (el && el.value !== undefined) {
        const v = String(el.value);
        if (f.type === 'number' && v === '' && !f.required) continue;
        data[k] = v;
        if (f.type !== 'password') values[k] = v;
      }
    }
    void this.host.submit(data);
  }

  /** a chosen file is read into a data URI (authentik's file prompt carries the file in the flow) */
  private onFile(e: Event) {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    if (!file) {
      delete input.dataset.uri;
      return;
    }
    const reader = new FileReader();
    reader.onload = () => {
      input.dataset.uri = String(reader.result);
    };
    reader.readAsDataURL(file);
  }

  private control(f: StagePrompt): TemplateResult {
    const k = f.field_key;
    const id = `ks-prompt-${k}`;
    const invalid = this.errorsFor(k).length ? 'true' : 'false';
    const described = [f.sub_text ? `${id}-help` : '', this.errorsFor(k).length ? `err-${k}` : ''].filter(Boolean).join(' ') || nothing;
    const value = this.valueOf(f);
    switch (f.type) {
      case 'text_area':
      case 'text_area_read_only':
        return html`<textarea id=${id} name=${k} rows="4" ?required=${f.required} ?readonly=${f.type === 'text_area_read_only'}
          placeholder=${f.placeholder || nothing} aria-invalid=${invalid} aria-describedby=${described} .value=${value}></textarea>`;
      case 'checkbox':
        return html`<input id=${id} name=${k} type="checkbox" .checked=${['true', 'True', '1', 'on'].includes(value)}
          aria-invalid=${invalid} aria-describedby=${described} />`;
      case 'dropdown':
        return html`<select id=${id} name=${k} ?required=${f.required} aria-invalid=${invalid} aria-describedby=${described}>
          ${(f.choices ?? []).map((c) => html`<option value=${c.value} ?selected=${c.value === value}>${c.label}</option>`)}
        </select>`;
      case 'file':
        return html`<input id=${id} name=${k} type="file" ?required=${f.required} @change=${this.onFile}
          aria-invalid=${invalid} aria-describedby=${described} />`;
      default: {
        const type =
          f.type === 'password'
            ? 'password'
            : f.type === 'email'
              ? 'email'
              : f.type === 'number'
                ? 'number'
                : f.type === 'date'
                  ? 'date'
                  : f.type === 'date-time'
                    ? 'datetime-local'
                    : 'text';
        return html`<input id=${id} name=${k} type=${type} ?required=${f.required} ?readonly=${f.type === 'text_read_only'}
          autocomplete=${AUTOCOMPLETE[f.type] ?? 'off'} placeholder=${f.placeholder || nothing} .value=${f.type === 'password' ? '' : value}
          aria-invalid=${invalid} aria-describedby=${described} />`;
      }
    }
  }

  private field(f: StagePrompt): TemplateResult | typeof nothing {
    const k = f.field_key;
    const id = `ks-prompt-${k}`;
    const help = f.sub_text ? html`<p class="ks-muted" id="${id}-help">${f.sub_text}</p>` : nothing;
    if (f.type === 'hidden') return html`<input type="hidden" name=${k} .value=${f.initial_value} />`;
    if (f.type === 'separator') return html`<hr aria-hidden="true" />${help}`;
    if (f.type === 'static') return html`<p>${f.initial_value || f.placeholder}</p>${help}`;
    if (f.type in ALERTS) return html`<div class=${ALERTS[f.type]!} role="note">${f.initial_value || f.placeholder}</div>${help}`;
    if (f.type === 'radio-button-group') {
      const value = this.valueOf(f);
      return html`<fieldset class="ks-picker" aria-describedby=${this.errorsFor(k).length ? `err-${k}` : nothing}>
        <legend>${f.label}</legend>
        ${(f.choices ?? []).map(
          (c, i) => html`<div class="ks-check"><input type="radio" id="${id}-${i}" name=${k} value=${c.value} ?checked=${c.value === value}
            ?required=${f.required} /><label for="${id}-${i}">${c.label}</label></div>`,
        )}
        ${help} ${this.fieldErrors(k)}
      </fieldset>`;
    }
    if (f.type === 'checkbox')
      return html`<div class="ks-field"><div class="ks-check">${this.control(f)}<label for=${id}>${f.label}</label></div>${help}${this.fieldErrors(k)}</div>`;
    return html`<div class="ks-field">
      <label for=${id}>${f.label}${f.required ? nothing : html` <span class="ks-muted">(optional)</span>`}</label>
      ${this.control(f)} ${help} ${this.fieldErrors(k)}
    </div>`;
  }

  override render() {
    const fields = [...(this.challenge.fields ?? [])];
    return html`<form class="ks-form" method="post" novalidate @submit=${this.onSubmit}>
      ${this.nonFieldErrors()} ${fields.map((f) => this.field(f))} ${this.submitButton('Continue')}
    </form>`;
  }
}
customElements.define('ak-stage-prompt', PromptView);
