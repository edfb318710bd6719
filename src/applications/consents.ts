/**
 * /core/user_consent/: the consents people gave applications (authentik's UserConsentViewSet: list, retrieve,
 * delete, used_by). A person sees and withdraws their own; a superuser sees all.
 */
import { mountResource, type ResourceDef } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import { drfDate } from '../rest/serialize.js';
import { Type } from '@sinclair/typebox';
import type { Services } from '../services.js';
import { renderUsers, type Row as UserRow } from '../users/render.js';
import type { ApplicationsTable, UserConsentsTable } from './table.js';
import { renderApplications } from './resource.js';

type Row = UserConsentsTable & { pk: number };

const consentProps = {
  pk: S.ro(S.int({ title: 'ID' })),
  expires: S.nullable(S.datetime()),
  expiring: S.bool(),
  user: Type.Unsafe({ $ref: '#/components/schemas/User' }),
  application: Type.Unsafe({ $ref: '#/components/schemas/Application' }),
  permissions: S.text({ default: '' }),
};

export function mountUserConsents(router: ApiRouter, svc: Services) {
  const resource: ResourceDef<Row> = {
    component: 'UserConsent',
    model: 'UserConsent',
    path: '/core/user_consent',
    opPrefix: 'core_user_consent',
    tag: 'core',
    lookup: { param: 'id', column: 'c.id', rowKey: 'id', type: 'int' },
    props: consentProps,
    ops: ['list', 'retrieve', 'destroy', 'used_by'],
    access: { kind: 'owner', column: 'c.user' },
    list: {
      filters: {
        user: { type: 'int', column: 'c.user' },
        application: { type: 'uuid', column: 'c.application' },
      },
      // authentik: user__username
      search: ['u.username'],
      ordering: { application: 'c.application', expires: 'c.expires', pk: 'c.id' },
      defaultOrdering: ['application', 'expires'],
      pk: 'c.id',
    },
    select: (db) => db.selectFrom('user_consents as c').innerJoin('users as u', 'u.id', 'c.user').selectAll('c').select('c.id as pk'),
    render: async (db, rows, req) => {
      const userIds = [...new Set(rows.map((r) => Number(r.user)))];
      const appIds = [...new Set(rows.map((r) => r.application))];
      const users = userIds.length
        ? ((await db.selectFrom('users').selectAll().select('id as pk').where('id', 'in', userIds).execute()) as UserRow[])
        : [];
      const apps = appIds.length
        ? ((await db
            .selectFrom('applications')
            .selectAll()
            .select('pbm_uuid as pk')
            .where('pbm_uuid', 'in', appIds)
            .execute()) as (ApplicationsTable & {
            pk: string;
          })[])
        : [];
      const renderedUsers = new Map((await renderUsers(db, users, svc.installId)).map((u) => [u.pk, u]));
      const renderedApps = new Map((await renderApplications(db, apps, req.caller?.user)).map((a) => [a.pk as string, a]));
      return rows.map((r) => ({
        pk: Number(r.id),
        expires: r.expiring === 1 || r.expiring === true ? drfDate(r.expires) : null,
        expiring: r.expiring === 1 || r.expiring === true,
        user: renderedUsers.get(Number(r.user)),
        application: renderedApps.get(r.application),
        permissions: r.permissions,
      }));
    },
    remove: async (tx, existing) => {
      await tx.deleteFrom('user_consents').where('id', '=', Number(existing.id)).execute();
    },
    usedBy: async () => [],
  };
  mountResource(router, svc.db, resource);
}
