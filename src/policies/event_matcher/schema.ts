import { Type } from '@sinclair/typebox';
import { addColumns } from '../../db/ddl.js';
import { ValidationError } from '../../rest/errors.js';
import type { DB } from '../../db/index.js';
import { dialectOf } from '../../db/dialect.js';
import { compileDjangoQLStrict, DjangoQLError } from '../../rest/djangoql.js';
import { eventQLFields } from '../../events/ql.js';
import { ACTIONS } from '../../events/resource.js';
import { APP_ENUM, MODEL_ENUM } from '../../events/enums.js';
import type { PolicyDef } from '../types.js';

const choice = (values: readonly string[], description: string) =>
  Type.Unsafe<string | null>({ type: 'string', enum: [...values], nullable: true, default: null, description });

export const eventMatcherSchema = {
  kind: 'eventmatcherpolicy',
  app: 'authentik_policies_event_matcher',
  model: 'EventMatcherPolicy',
  path: 'event_matcher',
  table: 'policy_event_matcher',
  component: 'ak-policy-event-matcher-form',
  verboseName: 'Event Matcher Policy',
  verboseNamePlural: 'Event Matcher Policies',
  description: 'Passes when Event matches selected criteria.',
  fields: {
    action: choice(ACTIONS, 'Match created events with this action type. When left empty, all action types will be matched.'),
    client_ip: Type.Unsafe<string | null>({
      type: 'string',
      nullable: true,
      minLength: 1,
      default: null,
      description: "Matches Event's Client IP (strict matching, for network matching use an Expression Policy)",
    }),
    app: choice(APP_ENUM, 'Match events created by selected application. When left empty, all applications are matched.'),
    model: choice(
      MODEL_ENUM,
      "Match events created by selected model. When left empty, all models are matched. When an app is selected, all the application's models are matched.",
    ),
    query: Type.Unsafe<string | null>({ type: 'string', nullable: true, minLength: 1, default: null }),
  },
  filters: {
    action: { type: 'enum', column: 't.action', values: ACTIONS },
    app: { type: 'str', column: 't.app' },
    client_ip: { type: 'str', column: 't.client_ip' },
    model: { type: 'str', column: 't.model' },
    query: { type: 'str', column: 't.query' },
  },
  /** a query must be valid in authentik's query language over events (src/events/ql.ts): a 400 saying why */
  validate(data: Record<string, unknown>, ctx: { db: DB }) {
    if (typeof data.query !== 'string') return;
    try {
      compileDjangoQLStrict(data.query, eventQLFields, dialectOf(ctx.db));
    } catch (e) {
      if (e instanceof DjangoQLError) throw ValidationError.field('query', `Invalid query: ${e.message}`);
      throw e;
    }
  },
  migrations: {
    policy_event_matcher_0001: (dialect) => ({
      up: (db) =>
        addColumns(
          db.schema
            .createTable('policy_event_matcher')
            .addColumn('policy_uuid', 'text', (c) => c.primaryKey().references('policies.policy_uuid').onDelete('cascade')),
          dialect,
          {
            action: { type: 'text' },
            client_ip: { type: 'text' },
            app: { type: 'text' },
            model: { type: 'text' },
            query: { type: 'text' },
          },
        ).execute(),
    }),
  },
} satisfies Omit<PolicyDef, 'evaluate'>;
