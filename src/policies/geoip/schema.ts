import { Type } from '@sinclair/typebox';
import { S } from '../../rest/schema.js';
import { addColumns } from '../../db/ddl.js';
import type { PolicyDef } from '../types.js';
import { COUNTRY_CODES } from './countries.js';

const km = (fallback: number, o: Record<string, unknown> = {}) => S.int({ minimum: 0, default: fallback, ...o });

export const geoipSchema = {
  kind: 'geoippolicy',
  app: 'authentik_policies_geoip',
  model: 'GeoIPPolicy',
  path: 'geoip',
  table: 'policy_geoip',
  component: 'ak-policy-geoip-form',
  verboseName: 'GeoIP Policy',
  verboseNamePlural: 'GeoIP Policies',
  description: 'Ensure the user satisfies requirements of geography or network topology, based on IP address.',
  fields: {
    asns: S.list(S.int(), { default: [] }),
    countries: S.list(S.enumOf(COUNTRY_CODES), { maxItems: COUNTRY_CODES.length }),
    countries_obj: S.ro(
      Type.Unsafe<{ code: string; name: string }[]>({
        type: 'array',
        items: {
          type: 'object',
          properties: { code: { type: 'string', minLength: 2, maxLength: 2 }, name: { type: 'string' } },
          required: ['code', 'name'],
        },
        'x-computed': true,
      }),
    ),
    check_history_distance: S.bool({ default: false }),
    history_max_distance_km: km(100, { format: 'int64', maximum: Number.MAX_SAFE_INTEGER }),
    distance_tolerance_km: km(50),
    history_login_count: km(5),
    check_impossible_travel: S.bool({ default: false }),
    impossible_tolerance_km: km(100),
  },
  filters: {},
  migrations: {
    policy_geoip_0001: (dialect) => ({
      up: (db) =>
        addColumns(
          db.schema
            .createTable('policy_geoip')
            .addColumn('policy_uuid', 'text', (c) => c.primaryKey().references('policies.policy_uuid').onDelete('cascade')),
          dialect,
          {
            asns: 'json',
            countries: 'json',
            check_history_distance: 'bool',
            // (authentik's PositiveBigIntegerField: a double holds every integer the API accepts, up to 2^53)
            history_max_distance_km: 'float',
            distance_tolerance_km: 'int',
            history_login_count: 'int',
            check_impossible_travel: 'bool',
            impossible_tolerance_km: 'int',
          },
        ).execute(),
    }),
  },
} satisfies Omit<PolicyDef, 'evaluate'>;
