import { S } from '../../rest/schema.js';
import { addColumns } from '../../db/ddl.js';
import type { PolicyDef } from '../types.js';

export const uniquePasswordSchema = {
  // (the kind and table are read by name by src/auth/password-history.ts)
  kind: 'uniquepasswordpolicy',
  app: 'authentik_policies_unique_password',
  model: 'UniquePasswordPolicy',
  path: 'unique_password',
  table: 'policy_unique_password',
  component: 'ak-policy-password-uniqueness-form',
  verboseName: 'Password Uniqueness Policy',
  verboseNamePlural: 'Password Uniqueness Policies',
  description:
    "Policy ensuring a user's password is not identical to a previously used password. After enabling the policy, Authentik stores every user's previous password whenever a user changes their own password. Old passwords remain stored in hashed form.",
  requiresEnterprise: true,
  fields: {
    password_field: S.str({
      default: 'password',
      description: 'Field key to check, field keys defined in Prompt stages are available.',
    }),
    num_historical_passwords: S.int({ minimum: 0, default: 1, description: 'Number of passwords to check against.' }),
  },
  filters: {
    password_field: { type: 'str', column: 't.password_field' },
    num_historical_passwords: { type: 'int', column: 't.num_historical_passwords' },
  },
  migrations: {
    policy_unique_password_0001: (dialect) => ({
      up: (db) =>
        addColumns(
          db.schema
            .createTable('policy_unique_password')
            .addColumn('policy_uuid', 'text', (c) => c.primaryKey().references('policies.policy_uuid').onDelete('cascade')),
          dialect,
          { password_field: 'text', num_historical_passwords: 'int' },
        ).execute(),
    }),
  },
} satisfies Omit<PolicyDef, 'evaluate'>;
