/** The device-code entry as an in-memory stage of the OAuth2 provider type. */
import type { ProviderStage } from '../../../types.js';
import { DEVICE_CODE } from '../in-memory.js';
import { deviceCodeChallenges } from './challenge.js';
import { deviceCodeRuntime } from './stage.js';

export const deviceCodeStage: ProviderStage = {
  kind: DEVICE_CODE.kind,
  app: 'authentik_providers_oauth2',
  verboseName: 'OAuth Device code stage',
  runtime: deviceCodeRuntime,
  challenges: deviceCodeChallenges,
};
