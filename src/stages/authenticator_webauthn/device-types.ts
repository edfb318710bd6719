/** /stages/authenticator/webauthn_device_types/: the known authenticator models (read-only). */
import { mountResource, type ResourceDef } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { S } from '../../rest/schema.js';
import { rowToApi } from '../../rest/serialize.js';
import type { DB } from '../../db/index.js';
import type { WebAuthnDeviceTypesTable } from '../../db/types.js';

const props = {
  aaguid: S.ro(S.uuid()),
  description: S.ro(S.text()),
  icon: S.ro(S.text({ nullable: true })),
};

export const deviceTypeResource: ResourceDef<WebAuthnDeviceTypesTable> = {
  component: 'WebAuthnDeviceType',
  model: 'WebAuthnDeviceType',
  path: '/stages/authenticator/webauthn_device_types',
  opPrefix: 'stages_authenticator_webauthn_device_types',
  tag: 'stages',
  lookup: { param: 'aaguid', column: 'aaguid', type: 'uuid' },
  props,
  ops: ['list', 'retrieve'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_stages_authenticator_webauthn.webauthndevicetype', verbose: 'WebAuthn Device type' },
  list: {
    filters: {
      aaguid: { type: 'uuid', column: 'aaguid' },
      description: { type: 'str', column: 'description' },
      icon: { type: 'str', column: 'icon' },
    },
    search: ['description', 'aaguid'],
    ordering: { description: 'description', aaguid: 'aaguid' },
    defaultOrdering: ['description'],
    pk: 'aaguid',
  },
  select: (db) => db.selectFrom('webauthn_device_types').selectAll(),
  render: async (_db, rows) => rows.map((r) => rowToApi(props, r)),
};

export function mountDeviceTypes(router: ApiRouter, db: DB) {
  // registered before the stage's own detail route would shadow it (static segment wins anyway)
  mountResource(router, db, deviceTypeResource);
}
