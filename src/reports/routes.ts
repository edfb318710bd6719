/**
 * authentik's data exports (enterprise reports): `POST <list>/export/` for each exporter (the list's query
 * parameters, kept with the export), `/reports/exports/` (list, retrieve, delete) and the file at
 * `/files/reports/public/<file>`.
 *
 * Who sees an export (authentik's DataExportViewSet): only exports of models the caller may view (the model's
 * `view` permission), and of those all with `view_dataexport`, else their own and those they hold it on. Asking for
 * one needs `add_dataexport` and the model's `view`; deleting it `delete_dataexport` or being its requester.
 *
 * The file's URL (`file_url`) carries a token signed with a key derived from the secret key, for 15 minutes, as
 * authentik's file backend; without one (the notification's link) the file is served to a session whose user may see
 * the export. Anything else is a 404.
 */
import { randomUUID } from 'node:crypto';
import { purposeKey } from '../instance/secrets.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SignJWT, jwtVerify } from 'jose';
import { sql, type SelectQueryBuilder } from 'kysely';
import type { UsersTable } from '../db/types.js';
import { registerModel } from '../rbac/catalogue.js';
import { can, hasGlobal, objectsWith, type Subject } from '../rbac/check.js';
import { removeObjectPermissions } from '../rbac/object-permissions.js';
import { identify, requireCaller, type Caller } from '../rest/auth.js';
import { Forbidden, NotFound, TooManyRequests } from '../rest/errors.js';
import { filtered, paginate, type ListSpec, type Query } from '../rest/list.js';
import { listQueryParams, registerPaginated } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { nowIso } from '../rest/serialize.js';
import { isUuid, normalizeUuid } from '../rest/validate.js';
import type { Services } from '../services.js';
import { partialUser } from '../users/render.js';
import type { Exporter } from './exporter.js';
import { askExport, claimAndMake, fileUrl, viewPermission, type ExportDeps } from './generate.js';
import type { DataExportsTable } from './table.js';

const MODEL = 'authentik_reports.dataexport';
registerModel({ label: MODEL, verbose: 'Data Export' });
const perm = (action: string) => `authentik_reports.${action}_dataexport`;

const URL_TTL_S = 15 * 60;

type Row = DataExportsTable & { username: string | null };

const listSpec: ListSpec = {
  filters: {},
  search: ['u.username', 'x.content_type'],
  ordering: {
    completed: 'x.completed',
    requested_by: 'x.requested_by',
    requested_on: 'x.requested_on',
    content_type__model: 'x.content_type',
  },
  defaultOrdering: ['-requested_on'],
  pk: 'x.id',
};

/** the key the files' URLs are signed with */
export const FILES_KEY_PURPOSE = 'keystage/files/reports';

/** what a refused export request is told to wait: about the time an export takes */
const RETRY_AFTER_S = 10;

export function mountReports(router: ApiRouter, app: FastifyInstance, svc: Services, exporters: readonly Exporter[]) {
  const limit = svc.config.exportsUnfinished;
  const { db } = svc;
  const deps: ExportDeps = { db, events: svc.events, exporters };
  const key = purposeKey(svc.secretKey, FILES_KEY_PURPOSE);
  const byLabel = new Map(exporters.map((e) => [e.label, e]));

  const signedUrl = async (file: string) => {
    const path = `reports/public/${file}`;
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ path })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(now + URL_TTL_S)
      .setNotBefore(now - 15)
      .sign(key);
    return `${fileUrl(file)}?token=${token}`;
  };

  const render = async (rows: Row[]) => {
    const ids = [...new Set(rows.map((r) => r.requested_by).filter((v): v is number => v !== null))];
    const users = ids.length ? await db.selectFrom('users').selectAll().where('id', 'in', ids).execute() : [];
    const byId = new Map(users.map((u) => [u.id, u as UsersTable]));
    return Promise.all(
      rows.map(async (r) => {
        const exporter = byLabel.get(r.content_type);
        const [appLabel, model] = r.content_type.split('.') as [string, string];
        const requester = r.requested_by === null ? undefined : byId.get(r.requested_by);
        return {
          id: r.id,
          requested_by: requester ? partialUser(requester, svc.installId) : null,
          requested_on: new Date(r.requested_on).toISOString(),
          content_type: {
            id: exporter?.contentTypeId ?? 0,
            app_label: appLabel,
            model,
            verbose_name_plural: exporter?.verbosePlural ?? model,
            fully_qualified_model: r.content_type,
          },
          query_params: JSON.parse(r.query_params),
          file_url: r.completed ? await signedUrl(r.file) : '',
          completed: !!r.completed,
        };
      }),
    );
  };

  const base = () =>
    db
      .selectFrom('data_exports as x')
      .leftJoin('users as u', 'u.id', 'x.requested_by')
      .select(['x.id', 'x.requested_by', 'x.requested_on', 'x.content_type', 'x.query_params', 'x.file', 'x.completed', 'x.claimed_until'])
      .select('u.username');

  /** the exports `s` may see: of models they may view; all with `view_dataexport`, else their own and those they hold it on */
  const visible = async <Q extends SelectQueryBuilder<any, any, any>>(q: Q, s: Subject): Promise<Q> => {
    const models: string[] = [];
    for (const e of exporters) if (await hasGlobal(db, s, viewPermission(e.label))) models.push(e.label);
    if (!models.length) return q.where(sql.lit(false)) as Q;
    const scoped = q.where('x.content_type', 'in', models) as Q;
    if (await hasGlobal(db, s, perm('view'))) return scoped;
    const shared = [...(await objectsWith(db, s, perm('view')))];
    return scoped.where((eb: any) =>
      eb.or([eb('x.requested_by', '=', s.user.id), ...(shared.length ? [eb('x.id', 'in', shared)] : [])]),
    ) as Q;
  };

  const load = async (s: Subject, raw: string): Promise<Row> => {
    if (!isUuid(raw)) throw NotFound.plain();
    const row = (await (await visible(base(), s)).where('x.id', '=', normalizeUuid(raw)).executeTakeFirst()) as Row | undefined;
    if (!row) throw NotFound.model('Data Export');
    return row;
  };

  router.component('DataExport', {
    type: 'object',
    properties: {
      id: { type: 'string', format: 'uuid', readOnly: true },
      requested_by: { allOf: [{ $ref: '#/components/schemas/PartialUser' }], readOnly: true },
      requested_on: { type: 'string', format: 'date-time', readOnly: true },
      content_type: { allOf: [{ $ref: '#/components/schemas/ContentType' }], readOnly: true },
      query_params: { type: 'object', additionalProperties: {} },
      file_url: { type: 'string', readOnly: true },
      completed: { type: 'boolean', readOnly: true },
    },
    required: ['completed', 'content_type', 'file_url', 'id', 'query_params', 'requested_by', 'requested_on'],
  });
  router.component('ContentType', {
    type: 'object',
    properties: {
      id: { type: 'integer', readOnly: true },
      app_label: { type: 'string', readOnly: true },
      model: { type: 'string', readOnly: true },
      verbose_name_plural: { type: 'string', readOnly: true },
      fully_qualified_model: { type: 'string', readOnly: true },
    },
    required: ['app_label', 'fully_qualified_model', 'id', 'model', 'verbose_name_plural'],
  });
  registerPaginated(router, 'DataExport');

  router.route('/reports/exports', {
    get: {
      doc: { operationId: 'reports_exports_list', tag: 'reports', query: listQueryParams(listSpec), response: 'PaginatedDataExportList' },
      handler: async (req) => {
        const caller = requireCaller(req);
        return paginate(db, await visible(base(), caller), listSpec, req.query as Query, (rows: Row[]) => render(rows), caller);
      },
    },
  });
  const idParam = [{ name: 'id', schema: { type: 'string', format: 'uuid' } }];
  router.route(
    '/reports/exports/{id}',
    {
      get: {
        doc: { operationId: 'reports_exports_retrieve', tag: 'reports', response: 'DataExport' },
        handler: async (req) => (await render([await load(requireCaller(req), (req.params as { id: string }).id)]))[0],
      },
      delete: {
        doc: { operationId: 'reports_exports_destroy', tag: 'reports', status: 204 },
        handler: async (req, reply) => {
          const caller = requireCaller(req);
          const row = await load(caller, (req.params as { id: string }).id);
          if (row.requested_by !== caller.user.id && !(await can(db, caller, perm('delete'), row.id))) throw Forbidden.permission();
          await db.transaction().execute(async (tx) => {
            await tx.deleteFrom('data_exports').where('id', '=', row.id).execute();
            await removeObjectPermissions(tx, MODEL, row.id);
          });
          await router.audit?.(req, 'model_deleted', {
            model: { app: 'authentik_reports', model_name: 'dataexport', pk: row.id, name: row.file || row.id },
          });
          return reply.code(204).send();
        },
      },
    },
    idParam,
  );

  for (const exporter of exporters) {
    router.route(`${exporter.path}/export`, {
      post: {
        doc: {
          operationId: `${exporter.opPrefix}_export_create`,
          tag: exporter.tag,
          query: listQueryParams(exporter.list),
          response: 'DataExport',
          status: 201,
        },
        handler: async (req, reply) => {
          const caller = requireCaller(req);
          if (!(await hasGlobal(db, caller, perm('add'))) || !(await hasGlobal(db, caller, viewPermission(exporter.label))))
            throw Forbidden.permission();
          const query = { ...(req.query as Query) };
          // a filter's bad value is a 400 now, not a failed export later
          await filtered(db, exporter.select(db), exporter.list, query);
          const id = randomUUID();
          const asked = await askExport(db, limit, {
            id,
            requested_by: caller.user.id,
            requested_on: nowIso(),
            content_type: exporter.label,
            query_params: JSON.stringify(query),
            file: '',
            content: null,
            completed: 0,
            claimed_until: null,
          });
          if (!asked) throw new TooManyRequests(RETRY_AFTER_S);
          const row = (await base().where('x.id', '=', id).executeTakeFirstOrThrow()) as Row;
          setImmediate(() => void claimAndMake(deps, id).catch((err) => req.log.warn({ err }, 'data export failed')));
          reply.code(201).header('location', `${router.prefix}/reports/exports/${id}/`);
          return (await render([row]))[0];
        },
      },
    });
  }

  app.get('/files/reports/public/:file', async (req, reply) => {
    const file = (req.params as { file: string }).file;
    const row = await db
      .selectFrom('data_exports')
      .select(['id', 'file', 'content'])
      .where('file', '=', file)
      .where('completed', '=', 1)
      .executeTakeFirst();
    if (!row || !(await mayDownload(req, row.id, file))) return reply.code(404).type('text/plain').send('Not Found');
    return reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="${file}"`)
      .header('cache-control', 'private, no-store')
      .send(row.content ?? '');
  });

  const mayDownload = async (req: FastifyRequest, id: string, file: string): Promise<boolean> => {
    const token = (req.query as Record<string, unknown>).token;
    if (typeof token === 'string' && token !== '') {
      try {
        const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'] });
        return payload.path === `reports/public/${file}`;
      } catch {
        return false;
      }
    }
    let caller: Caller | undefined;
    try {
      caller = await identify(db, req, (r) => svc.sessions.user(r));
    } catch {
      return false;
    }
    if (!caller) return false;
    return !!(await (await visible(base(), caller)).where('x.id', '=', id).executeTakeFirst());
  };

  return deps;
}
