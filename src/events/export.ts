/** The events' CSV export (authentik's ExportEventSerializer): the list's fields, the user as `user_pk`, `username`, `email`. */
import type { Exporter } from '../reports/exporter.js';
import { columnsOf } from '../reports/exporter.js';
import { eventResource } from './resource.js';

const KEYS = ['pk', 'action', 'app', 'context', 'client_ip', 'created', 'expires', 'brand', 'user_pk', 'username', 'email'];

export const eventExporter: Exporter = {
  label: 'authentik_events.event',
  contentTypeId: 2,
  verbose: 'Event',
  verbosePlural: 'Events',
  path: eventResource.path,
  opPrefix: eventResource.opPrefix,
  tag: eventResource.tag,
  list: eventResource.list,
  select: eventResource.select,
  columns: columnsOf(KEYS, { pk: 'Event uuid' }),
  records: async (db, rows) =>
    (await eventResource.render(db, rows, undefined as never)).map((e) => {
      const user = (e.user ?? {}) as { pk?: number; username?: string; email?: string };
      return { ...e, user_pk: user.pk ?? null, username: user.username ?? null, email: user.email ?? null };
    }),
};
