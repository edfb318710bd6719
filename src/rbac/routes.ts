/** The RBAC API: roles, the permission catalogue, who holds what, initial permissions. */
import type { ApiRouter } from '../rest/routes.js';
import type { DB } from '../db/index.js';
import { mountRoles } from './roles.js';
import { mountPermissions } from './permissions.js';
import { mountAssigned } from './assigned.js';
import { mountInitialPermissions } from './initial-api.js';

export function mountRbac(router: ApiRouter, db: DB) {
  const roles = mountRoles(router, db);
  mountPermissions(router, db);
  mountInitialPermissions(router, db);
  return { mountAssigned: () => mountAssigned(router, db, roles) };
}
