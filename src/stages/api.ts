/** Mounts the REST API of every registered stage type, and /stages/all/. */
import type { ApiRouter } from '../rest/routes.js';
import { mountAllStages } from './all.js';
import { stageTypes } from './registry.js';
import { mountStage } from './resource.js';
import { mountDeviceTypes } from './authenticator_webauthn/device-types.js';
import type { Services } from '../flows/engine/runtime.js';

export function mountStages(router: ApiRouter, svc: Services) {
  const { db } = svc;
  mountAllStages(router, db);
  mountDeviceTypes(router, db);
  for (const def of stageTypes) {
    def.routes?.(router, db, svc);
    mountStage(router, db, def, () => stageTypes);
  }
}
