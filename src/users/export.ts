/** The users' CSV export (authentik's ExportUserSerializer): the list's fields but `groups_obj` and `is_superuser`, groups by name. */
import type { Exporter } from '../reports/exporter.js';
import { columnsOf } from '../reports/exporter.js';
import { type Row, renderUsers } from './render.js';
import { userResource } from './resource.js';
import { userProps } from './schema.js';

const KEYS = Object.keys(userProps).filter((k) => k !== 'groups_obj' && k !== 'is_superuser');

export function userExporter(installId: string): Exporter<Row> {
  const res = userResource(installId);
  return {
    label: 'authentik_core.user',
    contentTypeId: 1,
    verbose: 'User',
    verbosePlural: 'Users',
    path: res.path,
    opPrefix: res.opPrefix,
    tag: res.tag,
    list: res.list,
    select: res.select,
    // the titles authentik's schema gives these fields
    columns: columnsOf(KEYS, { pk: 'ID', is_active: 'Active', email: 'Email address' }),
    records: async (db, rows) =>
      (await renderUsers(db, rows, installId)).map((u) => ({
        ...u,
        groups: ((u.groups_obj ?? []) as { name: string }[]).map((g) => g.name).join(','),
      })),
  };
}
