/**
 * /policies/reputation/scores/ (authentik's ReputationViewSet): list, retrieve, destroy and used_by of the scores
 * logins keep in `reputation_scores` (src/auth/reputation.ts), expired ones included, as authentik lists them.
 */
import { mountResource, type ResourceDef } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { S } from '../../rest/schema.js';
import type { Services } from '../../services.js';
import type { ReputationScoresTable } from '../../auth/reputation.js';

type Row = ReputationScoresTable & { pk: string };

const json = (v: string) => {
  try {
    return JSON.parse(v || '{}') as Record<string, unknown>;
  } catch {
    return {};
  }
};

export const reputationScoreProps = {
  pk: S.ro(S.uuid({ title: 'Reputation uuid', 'x-optional-out': true })),
  identifier: S.str(),
  ip: S.str(),
  ip_geo_data: S.obj({ default: {} }),
  ip_asn_data: S.obj({ default: {} }),
  score: S.int({ format: 'int64', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }),
  updated: S.ro(S.datetime()),
};

export const reputationScoresResource: ResourceDef<Row> = {
  component: 'Reputation',
  model: 'Reputation',
  path: '/policies/reputation/scores',
  opPrefix: 'policies_reputation_scores',
  tag: 'policies',
  lookup: { param: 'reputation_uuid', column: 'reputation_uuid', type: 'uuid' },
  props: reputationScoreProps,
  ops: ['list', 'retrieve', 'destroy', 'used_by'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_policies_reputation.reputation', verbose: 'Reputation Score' },
  list: {
    filters: {
      identifier: { type: 'str', column: 'identifier' },
      identifier_in: {
        type: 'custom',
        parse: (values) => {
          // django-filter's BaseInFilter: comma-separated, the key possibly repeated (the last one counts)
          const last = values.at(-1);
          if (last === undefined || last === '') return { cond: undefined };
          const ids = last.split(',');
          return { cond: (eb) => eb('identifier', 'in', ids) };
        },
        // authentik documents it as an array of strings, comma-separated (form style, not exploded)
        schema: { type: 'array', items: { type: 'string' } },
      },
      ip: { type: 'str', column: 'ip' },
      score: { type: 'int', column: 'score' },
    },
    // (authentik searches the score too, as text; an integer column is not searched here)
    search: ['identifier', 'ip'],
    ordering: { ip: 'ip', identifier: 'identifier', score: 'score', updated: 'updated', pk: 'reputation_uuid' },
    defaultOrdering: ['ip'],
    pk: 'reputation_uuid',
  },
  select: (db) => db.selectFrom('reputation_scores').selectAll().select('reputation_uuid as pk'),
  render: async (_db, rows) =>
    rows.map((r) => ({
      pk: r.reputation_uuid,
      identifier: r.identifier,
      ip: r.ip,
      ip_geo_data: json(r.ip_geo_data),
      ip_asn_data: json(r.ip_asn_data),
      score: Number(r.score),
      updated: r.updated,
    })),
  remove: async (tx, row) => {
    await tx.deleteFrom('reputation_scores').where('reputation_uuid', '=', row.reputation_uuid).execute();
  },
  // nothing refers to a score
  usedBy: async () => [],
};

export function mountReputationScores(router: ApiRouter, svc: Services) {
  mountResource(router, svc.db, reputationScoresResource);
}
