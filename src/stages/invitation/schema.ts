/**
 * The invitation stage (authentik's InvitationStage, `/stages/invitation/stages/`) and its invitations (authentik's
 * Invitation, `/stages/invitation/invitations/`). Invitations live in `invitations`, not a `stage_…` table: using one
 * (a single-use invitation is deleted) is no configuration change, so it does not move the configuration epoch.
 */
import { sql, type Kysely } from 'kysely';
import { addColumns, createStageTable } from '../../db/ddl.js';
import { S } from '../../rest/schema.js';
import { parseBool } from '../../rest/list.js';
import { uuidFilter } from '../filters.js';
import type { StageDef } from '../types.js';

export const INVITATIONS_TABLE = 'invitations';

/** declares the table for Kysely's types */
declare module '../../db/types.js' {
  interface Database {
    invitations: InvitationsTable;
  }
}

export interface InvitationsTable {
  invite_uuid: string;
  name: string;
  expires: string | null;
  fixed_data: string;
  created_by: number | null;
  single_use: number;
  flow: string | null;
}

export const invitationSchema = {
  kind: 'invitationstage',
  app: 'authentik_stages_invitation',
  model: 'InvitationStage',
  path: 'invitation/stages',
  table: 'stage_invitation',
  component: 'ak-stage-invitation-form',
  verboseName: 'Invitation Stage',
  verboseNamePlural: 'Invitation Stages',
  description: 'Simplify enrollment; allow users to use a single link to create their user with pre-defined parameters.',
  fields: {
    continue_flow_without_invitation: S.bool({
      default: false,
      description:
        'If this flag is set, this Stage will jump to the next Stage when no Invitation is given. By default this Stage will cancel the Flow when no invitation is given.',
    }),
  },
  filters: {
    stage_uuid: uuidFilter,
    continue_flow_without_invitation: { type: 'bool', column: 't.continue_flow_without_invitation' },
    // authentik's `BooleanFilter("flow", "isnull")`: stages bound to no flow
    no_flows: {
      type: 'custom',
      schema: { type: 'boolean' },
      parse: (values) => {
        const v = parseBool(values.at(-1) ?? '');
        if (v === undefined) return { error: ['Enter a valid boolean.'] };
        return {
          cond: (eb) => {
            const bound = eb.exists(
              eb.selectFrom('flow_bindings as fb').select(sql`1`.as('one')).whereRef('fb.stage', '=', 's.stage_uuid'),
            );
            return v ? eb.not(bound) : bound;
          },
        };
      },
    },
  },
  migrations: {
    stage_invitation_0001: (dialect) => ({
      async up(db: Kysely<any>) {
        await createStageTable(db, dialect, 'stage_invitation', { continue_flow_without_invitation: 'bool' });
        await addColumns(
          db.schema.createTable(INVITATIONS_TABLE).addColumn('invite_uuid', 'text', (c) => c.primaryKey()),
          dialect,
          {
            name: 'text',
            expires: { type: 'datetime' },
            fixed_data: 'json',
            // the creator's invitations go with them (authentik: CASCADE)
            created_by: { type: 'int', ref: { table: 'users', column: 'id', onDelete: 'cascade' } },
            single_use: 'bool',
            // an invitation restricted to a flow is deleted with it (authentik sets it to null, which would open it to
            // every flow with an invitation stage)
            flow: { type: 'uuid', ref: { table: 'flows', column: 'flow_uuid', onDelete: 'cascade' } },
          },
        ).execute();
        await db.schema.createIndex('invitations_expires').on(INVITATIONS_TABLE).column('expires').execute();
      },
    }),
  },
} satisfies StageDef;
