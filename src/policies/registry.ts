/** The one list of policy types. Adding a type: its folder under src/policies/, and one line here. */
import type { PolicyDef } from './types.js';
import { dummyPolicy } from './dummy/index.js';
import { expressionPolicy } from './expression/index.js';
import { passwordPolicy } from './password/index.js';
import { reputationPolicy } from './reputation/index.js';
import { passwordExpiryPolicy } from './password_expiry/index.js';
import { uniquePasswordPolicy } from './unique_password/index.js';
import { eventMatcherPolicy } from './event_matcher/index.js';
import { geoipPolicy } from './geoip/index.js';

export const policyTypes: PolicyDef[] = [
  dummyPolicy,
  expressionPolicy,
  passwordPolicy,
  reputationPolicy,
  passwordExpiryPolicy,
  uniquePasswordPolicy,
  eventMatcherPolicy,
  geoipPolicy,
];

const byKind = new Map(policyTypes.map((d) => [d.kind, d]));
export const policyTypeByKind = (kind: string) => byKind.get(kind);

export function policyMigrations() {
  return Object.assign({}, ...policyTypes.map((d) => d.migrations));
}
