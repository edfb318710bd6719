import { S } from '../../rest/schema.js';
import { addColumns } from '../../db/ddl.js';
import type { PolicyDef } from '../types.js';

export const passwordExpirySchema = {
  kind: 'passwordexpirypolicy',
  app: 'authentik_policies_expiry',
  model: 'PasswordExpiryPolicy',
  path: 'password_expiry',
  table: 'policy_password_expiry',
  component: 'ak-policy-password-expiry-form',
  verboseName: 'Password Expiry Policy',
  verboseNamePlural: 'Password Expiry Policies',
  description: "If password change date is more than x days in the past, invalidate the user's password and show a notice",
  fields: {
    days: S.int(),
    deny_only: S.bool({ default: false }),
  },
  filters: {
    days: { type: 'int', column: 't.days' },
    deny_only: { type: 'bool', column: 't.deny_only' },
  },
  migrations: {
    policy_password_expiry_0001: (dialect) => ({
      up: (db) =>
        addColumns(
          db.schema
            .createTable('policy_password_expiry')
            .addColumn('policy_uuid', 'text', (c) => c.primaryKey().references('policies.policy_uuid').onDelete('cascade')),
          dialect,
          { days: 'int', deny_only: 'bool' },
        ).execute(),
    }),
  },
} satisfies Omit<PolicyDef, 'evaluate'>;
