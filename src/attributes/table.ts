/** authentik's ObjectAttribute (migration 0046_object_attributes): a schema entry for a model's `attributes`. */

export const ATTRIBUTE_TYPES = ['text', 'number', 'boolean'] as const;

export interface ObjectAttributesTable {
  attribute_id: string;
  enabled: number | boolean;
  /** the model whose `attributes` it describes, as `app_label.model` */
  object_type: string;
  label: string;
  /** a heading to show it under (free text) */
  group: string;
  /** the attribute's path in `attributes` (dots separate nested keys) */
  key: string;
  type: (typeof ATTRIBUTE_TYPES)[number];
  is_unique: number | boolean;
  is_required: number | boolean;
  /** a pattern the whole value must match (empty: none) */
  regex: string;
  managed: string | null;
  created: string;
  last_updated: string;
}

declare module '../db/types.js' {
  interface Database {
    object_attributes: ObjectAttributesTable;
  }
}
