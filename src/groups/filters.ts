/** The groups list's filters (authentik's GroupFilter), its search and the DjangoQL fields of that search. */
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import { searchTerms, type FilterSpec } from '../rest/list.js';
import { compileDjangoQL, type QLField } from '../rest/djangoql.js';
import { attributesFilterOn } from '../users/filters.js';

/** direct members (as the `users` field), by user pk or username */
const members = (by: 'pk' | 'username'): FilterSpec => ({
  type: 'm2m',
  ref: by === 'pk' ? { table: 'users', column: 'id', int: true } : { table: 'users', column: 'username' },
  byName: by === 'username',
  exists: (eb, ids) =>
    eb.exists(
      eb
        .selectFrom('user_groups as j')
        .innerJoin('users as u', 'u.id', 'j.user_id')
        .select(sql`1`.as('one'))
        .whereRef('j.group_uuid', '=', 'groups.group_uuid')
        .where(by === 'pk' ? 'u.id' : 'u.username', 'in', ids as never[]),
    ),
});

export const groupFilters: Record<string, FilterSpec> = {
  name: { type: 'str', column: 'groups.name' },
  is_superuser: { type: 'bool', column: 'groups.is_superuser' },
  attributes: attributesFilterOn('groups.attributes'),
  members_by_pk: members('pk'),
  members_by_username: members('username'),
};

/** authentik's `get_ql_fields` for groups */
export const groupQLFields: Record<string, QLField> = {
  name: { type: 'str', column: 'groups.name' },
  is_superuser: { type: 'bool', column: 'groups.is_superuser', nullable: true },
  attributes: { type: 'json', column: 'groups.attributes' },
};

const likeEscape = (s: string) => s.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * `?search=`: DjangoQL first; otherwise every term must be found in the name or in `is_superuser` as PostgreSQL
 * prints a boolean ("true"/"false"), as authentik's `search_fields = ["name", "is_superuser"]`.
 */
export function groupSearch(search: string, dialect: 'sqlite' | 'postgres') {
  const ql = compileDjangoQL(search, groupQLFields, dialect);
  if (ql) return () => ql;
  const terms = searchTerms(search);
  if (!terms.length) return undefined;
  const op = dialect === 'postgres' ? sql`ilike` : sql`like`;
  return (eb: ExpressionBuilder<any, any>): Expression<SqlBool> =>
    eb.and(
      terms.map((term) => {
        const pat = `%${likeEscape(term)}%`;
        return sql<SqlBool>`(groups.name ${op} ${pat} escape '\\' or (case when groups.is_superuser = 1 then 'true' else 'false' end) ${op} ${pat} escape '\\')`;
      }),
    );
}
