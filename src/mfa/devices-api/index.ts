/** The device APIs under /authenticators/. */
import type { ApiRouter } from '../../rest/routes.js';
import type { Services } from '../../services.js';
import { mountAllDevices } from './all.js';
import { mountDeviceResources } from './resource.js';

export function mountDevices(router: ApiRouter, svc: Services) {
  mountAllDevices(router, svc.db);
  mountDeviceResources(router, svc.db, { installId: svc.installId, secretKey: svc.secretKey, brandOf: svc.brand, signals: svc.signals });
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
