import { S } from '../../rest/schema.js';
import { addColumns } from '../../db/ddl.js';
import type { PolicyDef } from '../types.js';
import { bindDefaultAuthenticationPolicies } from './defaults.js';

export const expressionSchema = {
  kind: 'expressionpolicy',
  app: 'authentik_policies_expression',
  model: 'ExpressionPolicy',
  path: 'expression',
  table: 'policy_expression',
  component: 'ak-policy-expression-form',
  verboseName: 'Expression Policy',
  verboseNamePlural: 'Expression Policies',
  description: 'Execute arbitrary Python code to implement custom checks and validation.',
  fields: {
    expression: S.str({ 'x-no-trim': true }),
  },
  filters: {
    expression: { type: 'str', column: 't.expression' },
  },
  migrations: {
    policy_expression_0001: (dialect) => ({
      up: (db) =>
        addColumns(
          db.schema
            .createTable('policy_expression')
            .addColumn('policy_uuid', 'text', (c) => c.primaryKey().references('policies.policy_uuid').onDelete('cascade')),
          dialect,
          { expression: 'text' },
        ).execute(),
    }),
    // installs whose default flow predates policies: its two built-in skips become authentik's policies, once
    policy_expression_0002_default_flow: () => ({ up: (db) => bindDefaultAuthenticationPolicies(db as never) }),
  },
} satisfies Omit<PolicyDef, 'evaluate'>;
