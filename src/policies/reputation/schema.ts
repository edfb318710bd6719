import { S } from '../../rest/schema.js';
import { addColumns } from '../../db/ddl.js';
import { ValidationError } from '../../rest/errors.js';
import type { PolicyDef } from '../types.js';

export const reputationSchema = {
  kind: 'reputationpolicy',
  app: 'authentik_policies_reputation',
  model: 'ReputationPolicy',
  path: 'reputation',
  table: 'policy_reputation',
  component: 'ak-policy-reputation-form',
  verboseName: 'Reputation Policy',
  verboseNamePlural: 'Reputation Policies',
  description: "Return true if request IP/target username's score is below a certain threshold",
  fields: {
    check_ip: S.bool({ default: true }),
    check_username: S.bool({ default: true }),
    threshold: S.int({ default: -5 }),
  },
  filters: {
    check_ip: { type: 'bool', column: 't.check_ip' },
    check_username: { type: 'bool', column: 't.check_username' },
    threshold: { type: 'int', column: 't.threshold' },
  },
  /**
   * authentik's serializer looks at what was sent: unless `check_ip` or `check_username` is sent as true (on create
   * and on every update, partial or not), it refuses, whatever is stored.
   */
  validate(data, ctx) {
    const sent = (ctx.body ?? {}) as Record<string, unknown>;
    const on = (k: string) => Object.hasOwn(sent, k) && data[k] === true;
    if (!on('check_ip') && !on('check_username')) throw ValidationError.nonField('Either IP or Username must be checked');
  },
  migrations: {
    policy_reputation_0001: (dialect) => ({
      up: (db) =>
        addColumns(
          db.schema
            .createTable('policy_reputation')
            .addColumn('policy_uuid', 'text', (c) => c.primaryKey().references('policies.policy_uuid').onDelete('cascade')),
          dialect,
          { check_ip: 'bool', check_username: 'bool', threshold: 'int' },
        ).execute(),
    }),
  },
} satisfies Omit<PolicyDef, 'evaluate'>;
