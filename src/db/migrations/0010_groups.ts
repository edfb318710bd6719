import type { Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';
import { numPkOf } from '../../groups/num-pk.js';

/**
 * Group hierarchy (authentik's GroupParentageNode: a group has several parents), group roles (stored; RBAC comes
 * later), an index for "members of a group", and authentik's `num_pk` (derived from the UUID) for existing groups.
 */
export const m0010_groups: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    // one row per (child, parent) edge; deleting either group deletes the edge
    await db.schema
      .createTable('group_parents')
      .addColumn('child_uuid', 'text', (c) => c.notNull().references('groups.group_uuid').onDelete('cascade'))
      .addColumn('parent_uuid', 'text', (c) => c.notNull().references('groups.group_uuid').onDelete('cascade'))
      .addPrimaryKeyConstraint('group_parents_pk', ['child_uuid', 'parent_uuid'])
      .execute();
    await db.schema.createIndex('group_parents_parent').on('group_parents').column('parent_uuid').execute();
    await db.schema
      .createTable('group_roles')
      .addColumn('group_uuid', 'text', (c) => c.notNull().references('groups.group_uuid').onDelete('cascade'))
      .addColumn('role_uuid', 'text', (c) => c.notNull().references('roles.role_uuid').onDelete('cascade'))
      .addPrimaryKeyConstraint('group_roles_pk', ['group_uuid', 'role_uuid'])
      .execute();
    // (user_groups' primary key starts with user_id; this serves a group's members)
    await db.schema.createIndex('user_groups_group').on('user_groups').column('group_uuid').execute();
    await db.schema.createIndex('groups_is_superuser').on('groups').column('is_superuser').execute();

    // authentik's num_pk is the first five digits of the UUID as an integer; give existing groups theirs where free
    const groups = (await db.selectFrom('groups').select(['group_uuid', 'num_pk']).orderBy('name').execute()) as {
      group_uuid: string;
      num_pk: number;
    }[];
    const taken = new Set(groups.map((g) => Number(g.num_pk)));
    for (const g of groups) {
      const want = numPkOf(g.group_uuid);
      if (want === Number(g.num_pk) || taken.has(want)) continue;
      await db.updateTable('groups').set({ num_pk: want }).where('group_uuid', '=', g.group_uuid).execute();
      taken.delete(Number(g.num_pk));
      taken.add(want);
    }
  },
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('groups_is_superuser').ifExists().execute();
    await db.schema.dropIndex('user_groups_group').ifExists().execute();
    await db.schema.dropTable('group_roles').ifExists().execute();
    await db.schema.dropTable('group_parents').ifExists().execute();
  },
});
