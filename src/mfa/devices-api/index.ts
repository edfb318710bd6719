/** The device APIs under /authenticators/. */
import type { ApiRouter } from '../../rest/routes.js';
import type { DB } from '../../db/index.js';
import { mountAllDevices } from './all.js';
import { mountDeviceResources } from './resource.js';

export function mountDevices(router: ApiRouter, db: DB, installId: string, secretKey: string, brandTitle: string) {
  mountAllDevices(router, db);
  mountDeviceResources(router, db, installId, secretKey, brandTitle);
  router.component('PartialUser', {
    type: 'object',
    properties: {
      pk: { type: 'integer', readOnly: true },
      username: { type: 'string' },
      name: { type: 'string' },
      is_active: { type: 'boolean' },
      last_login: { type: 'string', format: 'date-time', nullable: true },
      email: { type: 'string', format: 'email' },
      attributes: { type: 'object', additionalProperties: {} },
      uid: { type: 'string', readOnly: true },
    },
    required: ['name', 'pk', 'uid', 'username'],
  });
  router.component('StaticDeviceToken', { type: 'object', properties: { token: { type: 'string', maxLength: 100 } }, required: ['token'] });
  router.component('Device', { type: 'object', additionalProperties: {} });
}
