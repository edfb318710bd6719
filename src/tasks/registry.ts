/**
 * Every actor Keystage has, by authentik's name. Adding one: its module exports an `Actor` (./actor.ts), one line
 * here. An actor with a `crontab` gets a schedule of its own at start.
 */
import { cleanExpiredModels } from './clean-expired-models.js';
import { blueprintsDiscovery } from '../blueprints/discovery.js';
import { executeDueOffboardings, executeOffboardingActor } from '../lifecycle/offboarding/tasks.js';
import { applyLifecycleRule, applyLifecycleRules } from '../lifecycle/review/tasks.js';
import type { Actor } from './actor.js';
import { scimSync } from '../providers/scim/scheduler.js';
import { sendSsfEvent } from '../providers/ssf/index.js';
import { ldapConnectivityCheck, ldapSync } from '../sources/ldap/scheduler.js';
import { updateWellKnownJwks } from '../sources/oauth/refresh.js';
import { cleanWorkerStatuses } from './workers.js';

export const ACTORS: readonly Actor[] = [
  cleanExpiredModels,
  blueprintsDiscovery,
  cleanWorkerStatuses,
  ldapSync,
  ldapConnectivityCheck,
  updateWellKnownJwks,
  scimSync,
  sendSsfEvent,
  executeDueOffboardings,
  executeOffboardingActor,
  applyLifecycleRules,
  applyLifecycleRule,
];

const byName = new Map(ACTORS.map((a) => [a.name, a]));

export const actorNamed = (name: string): Actor | undefined => byName.get(name);
