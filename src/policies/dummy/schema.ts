import { S } from '../../rest/schema.js';
import { addColumns } from '../../db/ddl.js';
import type { PolicyDef } from '../types.js';

export const dummySchema = {
  kind: 'dummypolicy',
  app: 'authentik_policies_dummy',
  model: 'DummyPolicy',
  path: 'dummy',
  table: 'policy_dummy',
  component: 'ak-policy-dummy-form',
  verboseName: 'Dummy Policy',
  verboseNamePlural: 'Dummy Policies',
  description: 'Policy used for debugging the PolicyEngine. Returns a fixed result, but takes a random time to process.',
  fields: {
    result: S.bool({ default: false }),
    wait_min: S.int({ default: 5 }),
    wait_max: S.int({ default: 30 }),
  },
  filters: {
    result: { type: 'bool', column: 't.result' },
    wait_min: { type: 'int', column: 't.wait_min' },
    wait_max: { type: 'int', column: 't.wait_max' },
  },
  migrations: {
    policy_dummy_0001: (dialect) => ({
      up: (db) =>
        addColumns(
          db.schema
            .createTable('policy_dummy')
            .addColumn('policy_uuid', 'text', (c) => c.primaryKey().references('policies.policy_uuid').onDelete('cascade')),
          dialect,
          { result: 'bool', wait_min: 'int', wait_max: 'int' },
        ).execute(),
    }),
  },
} satisfies Omit<PolicyDef, 'evaluate'>;
