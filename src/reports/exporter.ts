/**
 * The contract a domain fulfils to offer its list as a CSV export (authentik's `ExportMixin` on a viewset): the list's
 * filters, search and ordering (the export takes the list's query parameters), its rows and their columns. The
 * exporters in use are named once, in src/server.ts.
 */
import type { SelectQueryBuilder } from 'kysely';
import type { DB } from '../db/index.js';
import type { ListSpec } from '../rest/list.js';

export interface ExportColumn {
  key: string;
  /** the CSV header (authentik: the serializer field's label) */
  label: string;
}

export interface Exporter<Row = any> {
  /** authentik's content type, `app_label.model` (the model's `view` permission opens the export) */
  label: string;
  /** Keystage has no content-type table: a fixed id per exportable model, as the API shows it */
  contentTypeId: number;
  verbose: string;
  verbosePlural: string;
  /** the list's path (`/core/users`): the export is `POST <path>/export/` */
  path: string;
  opPrefix: string;
  tag: string;
  list: ListSpec;
  select(db: DB): SelectQueryBuilder<any, any, any>;
  columns: readonly ExportColumn[];
  /** the rows as records keyed by the columns' keys */
  records(db: DB, rows: Row[]): Promise<Record<string, unknown>[]>;
}

/** authentik's label of a field without a title: its name with spaces, the first letter capitalised */
export const defaultLabel = (key: string): string => {
  const s = key.replaceAll('_', ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
};

export const columnsOf = (keys: readonly string[], titles: Record<string, string> = {}): ExportColumn[] =>
  keys.map((key) => ({ key, label: titles[key] ?? defaultLabel(key) }));
