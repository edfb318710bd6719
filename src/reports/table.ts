export interface DataExportsTable {
  id: string;
  requested_by: number | null;
  requested_on: string;
  /** the exporter's content type, `app_label.model` */
  content_type: string;
  /** JSON: the list's query parameters (a repeated one as a list) */
  query_params: string;
  /** the file's name, once made */
  file: string;
  /** the CSV, once made */
  content: string | null;
  /** 0/1 */
  completed: number;
  claimed_until: string | null;
}

declare module '../db/types.js' {
  interface Database {
    data_exports: DataExportsTable;
  }
}
