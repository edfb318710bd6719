/**
 * `/stages/invitation/invitations/` (authentik's InvitationViewSet): superusers create, list and change invitations;
 * `created_by` is whoever created one. The link to hand out is `/if/flow/<enrollment flow>/?itoken=<pk>`.
 */
import { newPk } from '../../rest/requested-pk.js';
import { Type } from '@sinclair/typebox';
import { mountResource, type ResourceDef } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { S, type Props } from '../../rest/schema.js';
import { apiToRow, rowToApi } from '../../rest/serialize.js';
import type { DB } from '../../db/index.js';
import type { FlowsTable, UsersTable } from '../../db/types.js';
import { partialUser } from '../../users/render.js';
import { renderFlows } from '../../flows/rest/instances.js';
import { INVITATIONS_TABLE, type InvitationsTable } from './schema.js';
import { sendInvitationEmail } from './send-email.js';
import type { Services } from '../../flows/engine/runtime.js';

type Row = InvitationsTable & { pk: string };

const computed = (component: string) => S.ro(Type.Unsafe({ $ref: `#/components/schemas/${component}`, 'x-computed': true }));

/** authentik's InvitationSerializer */
export const invitationProps: Props = {
  pk: S.ro(S.uuid({ title: 'Invite uuid' })),
  name: S.str({ pattern: '^[-a-zA-Z0-9_]+$', 'x-slug': 'drf' }),
  expires: S.datetime({ nullable: true, default: null }),
  fixed_data: S.obj({ default: {} }),
  created_by: computed('PartialUser'),
  single_use: S.bool({ default: false, description: 'When enabled, the invitation will be deleted after usage.' }),
  flow: S.fk(
    { table: 'flows', column: 'flow_uuid' },
    { default: null, description: 'When set, only the configured flow can use this invitation.' },
  ),
  flow_obj: computed('Flow'),
};

const WRITABLE = ['name', 'expires', 'fixed_data', 'single_use', 'flow'] as const;

function pick(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of WRITABLE) if (data[k] !== undefined) out[k] = data[k];
  return apiToRow(invitationProps, out);
}

/** the install id users' `uid` is derived from (kept once read) */
const installIds = new WeakMap<DB, Promise<string>>();
function installIdOf(db: DB): Promise<string> {
  let p = installIds.get(db);
  if (!p) {
    p = db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', 'install_id')
      .executeTakeFirst()
      .then((r) => r?.value ?? '');
    installIds.set(db, p);
  }
  return p;
}

async function render(db: DB, rows: Row[]): Promise<Record<string, unknown>[]> {
  const userIds = [...new Set(rows.map((r) => r.created_by).filter((x): x is number => x !== null))];
  const flowIds = [...new Set(rows.map((r) => r.flow).filter((x): x is string => !!x))];
  const [users, flows, installId] = await Promise.all([
    userIds.length ? db.selectFrom('users').selectAll().where('id', 'in', userIds).execute() : [],
    flowIds.length
      ? db
          .selectFrom('flows')
          .selectAll()
          .select(['flow_uuid as pk', 'pbm_uuid as policybindingmodel_ptr_id'])
          .where('flow_uuid', 'in', flowIds)
          .execute()
      : [],
    installIdOf(db),
  ]);
  const userById = new Map((users as UsersTable[]).map((u) => [u.id, partialUser(u, installId)]));
  const rendered = await renderFlows(db, flows as (FlowsTable & { pk: string; policybindingmodel_ptr_id: string })[]);
  const flowById = new Map(rendered.map((f) => [(f as Record<string, unknown>).pk as string, f]));
  return rows.map((r) => ({
    ...rowToApi(invitationProps, r),
    pk: r.invite_uuid,
    created_by: r.created_by === null ? null : (userById.get(r.created_by) ?? null),
    flow_obj: r.flow ? (flowById.get(r.flow) ?? null) : null,
  }));
}

export const invitationResource: ResourceDef<Row> = {
  component: 'Invitation',
  model: 'Invitation',
  path: '/stages/invitation/invitations',
  opPrefix: 'stages_invitation_invitations',
  tag: 'stages',
  lookup: { param: 'invite_uuid', column: 'i.invite_uuid', rowKey: 'invite_uuid', type: 'uuid' },
  props: invitationProps,
  ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_stages_invitation.invitation', verbose: 'Invitation' },
  list: {
    filters: {
      name: { type: 'str', column: 'i.name' },
      created_by__username: { type: 'str', column: 'u.username' },
      expires: { type: 'datetime', column: 'i.expires' },
      flow__slug: { type: 'str', column: 'f.slug' },
    },
    search: ['i.name', 'u.username', 'i.expires', 'f.slug'],
    ordering: { name: 'i.name', expires: 'i.expires', single_use: 'i.single_use', pk: 'i.invite_uuid' },
    defaultOrdering: ['-expires'],
    pk: 'i.invite_uuid',
  },
  select: (db) =>
    db
      .selectFrom(`${INVITATIONS_TABLE} as i`)
      .leftJoin('users as u', 'u.id', 'i.created_by')
      .leftJoin('flows as f', 'f.flow_uuid', 'i.flow')
      .selectAll('i')
      .select('i.invite_uuid as pk'),
  render: (db, rows) => render(db, rows),
  insert: async (tx, data, ctx) => {
    const invite_uuid = newPk();
    await tx
      .insertInto(INVITATIONS_TABLE)
      .values({
        invite_uuid,
        expires: null,
        fixed_data: '{}',
        single_use: 0,
        flow: null,
        ...pick(data),
        created_by: ctx.caller.user.id,
      } as InvitationsTable)
      .execute();
    return invite_uuid;
  },
  update: async (tx, existing, data) => {
    const values = pick(data);
    if (Object.keys(values).length)
      await tx
        .updateTable(INVITATIONS_TABLE)
        .set(values as never)
        .where('invite_uuid', '=', existing.invite_uuid)
        .execute();
    return existing.invite_uuid;
  },
  remove: async (tx, existing) => {
    await tx.deleteFrom(INVITATIONS_TABLE).where('invite_uuid', '=', existing.invite_uuid).execute();
  },
  usedBy: async () => [],
};

export function mountInvitationRoutes(router: ApiRouter, db: DB, svc: Services) {
  const { load } = mountResource(router, db, invitationResource);
  router.route('/stages/invitation/invitations/{invite_uuid}/send_email', {
    post: {
      doc: {
        operationId: 'stages_invitation_invitations_send_email_create',
        tag: 'stages',
        body: 'InvitationSendEmailRequest',
        bodyRequired: true,
        status: 204,
      },
      // (authentik: whoever may view the invitation, whose link it mails)
      handler: async (req, reply) => sendInvitationEmail(svc, req, reply, (await load(req, 'view')).row),
    },
  });
  // authentik's InvitationSendEmailRequest
  router.component('InvitationSendEmailRequest', {
    type: 'object',
    description: 'Serializer for sending invitation emails',
    properties: {
      email_addresses: { type: 'array', items: {} },
      cc_addresses: { type: 'array', items: {} },
      bcc_addresses: { type: 'array', items: {} },
      template: { type: 'string', minLength: 1, default: 'invitation' },
    },
    required: ['email_addresses'],
  });
}
