/**
 * Fields naming other objects (a binding's stage, a provider's flows, a brand's certificate): chosen from a list of
 * those objects instead of typed as a UUID. A field is a relation when its name matches a rule below and its schema
 * holds a key (a string or an integer, or an array of them); the options are the list endpoint's objects.
 */
import { all } from '#web/api.js';
import type { Field } from './openapi.js';

interface Rule {
  /** the field's name */
  name: RegExp;
  /** the resources it applies to (their list paths); any when absent */
  under?: RegExp;
  list: string;
  /** the option's text: the first of these the object has */
  label: string[];
}

const RULES: Rule[] = [
  // a stage binding's target is a flow; a policy binding's is any binding target, typed by hand
  { name: /^target$/, under: /^\/flows\/bindings\/$/, list: '/flows/instances/', label: ['slug'] },
  { name: /(^|_)flow(_|$)|^flow_/, list: '/flows/instances/', label: ['slug'] },
  { name: /^(stage|configuration_stages?|\w+_stage)$/, list: '/stages/all/', label: ['name'] },
  { name: /^(policy|validation_policies)$/, list: '/policies/all/', label: ['name'] },
  { name: /^(group|parent|parents|destination_group|groups)$/, list: '/core/groups/', label: ['name'] },
  { name: /^(user|users|for_user)$/, list: '/core/users/', label: ['username'] },
  // a group's or role's member added or removed
  { name: /^pk$/, under: /\/(add_user|remove_user)\/$/, list: '/core/users/', label: ['username'] },
  { name: /^roles$/, list: '/rbac/roles/', label: ['name'] },
  {
    name: /^(signing_kp|signing_key|encryption_key|verification_kp|certificate|web_certificate|client_certificates|tls_verification|tls_authentication|verification_certificates?)$/,
    list: '/crypto/certificatekeypairs/',
    label: ['name'],
  },
  { name: /^(property_mappings\w*|\w+_property_mappings)$/, list: '/propertymappings/all/', label: ['name'] },
  { name: /^sources$/, list: '/sources/all/', label: ['name'] },
  { name: /^(provider|backchannel_providers)$/, list: '/providers/all/', label: ['name'] },
  { name: /^default_application$/, list: '/core/applications/', label: ['name'] },
  { name: /^transports$/, list: '/events/transports/', label: ['name'] },
  { name: /^fields$/, under: /^\/stages\/prompt\/stages\/$/, list: '/stages/prompt/prompts/', label: ['name'] },
];

export interface Relation {
  list: string;
  label: string[];
  many: boolean;
  /** the keys are integers (users, providers) */
  numeric: boolean;
}

/**
 * the relation a field of the resource at `list` (or of the operation at that path) is, if any; `schemaType` and
 * `itemType`: its schema's types
 */
export function relationOf(list: string, f: Field, schemaType: string | undefined, itemType: string | undefined): Relation | undefined {
  const many = schemaType === 'array';
  const type = many ? itemType : schemaType;
  if (type !== 'string' && type !== 'integer') return undefined;
  if (f.kind === 'select' || f.kind === 'multiselect' || f.kind === 'password') return undefined;
  const rule = RULES.find((r) => r.name.test(f.name) && (!r.under || r.under.test(list)));
  if (!rule) return undefined;
  return { list: rule.list, label: rule.label, many, numeric: type === 'integer' };
}

export interface Option {
  value: string;
  text: string;
}

const cache = new Map<string, Promise<Option[]>>();

/** a list's objects as options (its first 500), read once per page load */
export function optionsOf(r: Relation): Promise<Option[]> {
  let p = cache.get(r.list);
  if (!p) {
    p = all<Record<string, unknown>>(r.list, 5).then((objects) =>
      objects.map((o) => ({
        value: String(o.pk),
        text: String(r.label.map((l) => o[l]).find((v) => typeof v === 'string' && v) ?? o.pk),
      })),
    );
    p.catch(() => cache.delete(r.list));
    cache.set(r.list, p);
  }
  return p;
}

/** after a write: the lists' objects may have changed */
export const forgetOptions = () => cache.clear();
