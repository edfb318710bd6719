/** /core/groups/: the resource, `add_user` and `remove_user`. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { mountResource } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import type { Services } from '../services.js';
import { groupResource } from './resource.js';
import { relatedGroupComponent, userAccountRequestComponent } from './schema.js';
import { addMember, removeMember } from './store.js';
import { isMember } from './membership.js';
import { guardMembership } from '../rbac/guards.js';
import { userOfAccountBody } from '../users/by-id.js';

export function mountGroups(router: ApiRouter, svc: Services) {
  const { db, installId } = svc;
  router.component('RelatedGroup', relatedGroupComponent);
  router.component('UserAccountRequest', userAccountRequestComponent);
  const { load } = mountResource(router, db, groupResource(installId));

  /**
   * authentik's order: the group (404, or 403 without the permission), then the body (400), then the user (404
   * "Not found." — also for a user the caller may not view), then what the membership would grant (403), then the
   * change (204).
   */
  const member =
    (change: typeof addMember, permission: 'add_user_to_group' | 'remove_user_from_group') =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      const { row, caller } = await load(req, permission);
      const user = await userOfAccountBody(db, req.body, caller);
      // what joining the group would give, checked only for someone not in it yet: taking a member out, or adding one
      // who is in already, changes nobody's rights (authentik's test_remove_member_superuser_group and
      // test_add_member_existing_member_superuser_group)
      if (permission === 'add_user_to_group' && !(await isMember(db, user.id, row.group_uuid)))
        await guardMembership(db, caller, row.group_uuid);
      await change(db, row.group_uuid, user.id);
      await router.audit?.(req, 'model_updated', {
        model: { app: 'authentik_core', model_name: 'group', pk: row.group_uuid, name: row.name },
      });
      reply.code(204);
      return reply.send();
    };

  const action = (name: 'add_user' | 'remove_user', description: string, change: typeof addMember) =>
    router.route(
      `/core/groups/{group_uuid}/${name}`,
      {
        post: {
          doc: {
            operationId: `core_groups_${name}_create`,
            tag: 'core',
            body: 'UserAccountRequest',
            bodyRequired: true,
            status: 204,
          },
          handler: member(change, name === 'add_user' ? 'add_user_to_group' : 'remove_user_from_group'),
        },
      },
      [{ name: 'group_uuid', schema: { type: 'string', format: 'uuid', description } }],
    );
  action('add_user', 'A UUID string identifying this Group.', addMember);
  action('remove_user', 'A UUID string identifying this Group.', removeMember);
}
