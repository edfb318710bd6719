/** The device-code approval as an in-memory stage of the OAuth2 provider type. */
import type { ProviderStage } from '../../../types.js';
import { DEVICE_FINISH } from '../in-memory.js';
import { deviceCodeFinishChallenges } from './challenge.js';
import { deviceCodeFinishRuntime } from './stage.js';

export const deviceCodeFinishStage: ProviderStage = {
  kind: DEVICE_FINISH.kind,
  app: 'authentik_providers_oauth2',
  verboseName: 'OAuth Device code finish stage',
  runtime: deviceCodeFinishRuntime,
  challenges: deviceCodeFinishChallenges,
};
