/**
 * authentik's default flows, created on first start unless flows with these slugs exist:
 * default-authentication-flow (identification → password → MFA validation (skip) → login, with authentik's two
 * expression policies on the password and MFA bindings) and
 * default-invalidation-flow (logout), and the providers' flows (authentik's blueprints
 * flow-default-provider-authorization-{implicit,explicit}-consent.yaml and flow-default-provider-invalidation.yaml):
 * default-provider-authorization-implicit-consent (no stage), default-provider-authorization-explicit-consent (a
 * consent stage remembering consent until it expires) and default-provider-invalidation-flow (no stage: logging out
 * of an application does not end the Keystage session). With a new default
 * authentication flow, the sign-up flow (default-enrollment.ts), the recovery flow (default-recovery.ts), the
 * account-deletion flow (default-unenrollment.ts), the person's settings flows (default-user-settings.ts) and the
 * account lockdown flows (default-lockdown.ts, named by no brand until an administrator opts in). Safe
 * when several nodes start at once.
 */
import { randomUUID } from 'node:crypto';
import type { DB } from '../db/index.js';
import type { Tx } from '../rest/resource.js';
import { apiToRow } from '../rest/serialize.js';
import { stageTypeByKind } from '../stages/registry.js';
import { stageProps } from '../stages/resource.js';
import { bindingDefaults, insertBinding, insertFlow } from './store.js';
import { bindDefaultAuthenticationPolicies } from '../policies/expression/defaults.js';
import { ensureDefaultEnrollmentFlow } from './default-enrollment.js';
import { ensureDefaultRecoveryFlow } from './default-recovery.js';
import { ensureDefaultUnenrollmentFlow } from './default-unenrollment.js';
import { ensureUserSettingsFlows } from './default-user-settings.js';
import { ensureDefaultSourceFlows } from './default-source.js';
import { ensureDefaultLockdownFlows } from './default-lockdown.js';

export interface StageSeed {
  kind: string;
  name: string;
  fields: Record<string, unknown>;
  /** the binding's order (default: 10, 20, … in the given order) */
  order?: number;
}

async function ensureStage(tx: Tx, seed: StageSeed): Promise<string> {
  const existing = await tx.selectFrom('stages').select(['stage_uuid', 'kind']).where('name', '=', seed.name).executeTakeFirst();
  if (existing) return existing.stage_uuid;
  const def = stageTypeByKind(seed.kind)!;
  const props = stageProps(def);
  const values: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(def.fields)) {
    if (s.readOnly || s['x-computed'] || def.m2m?.[k]) continue;
    values[k] = seed.fields[k] ?? (s.default !== undefined ? structuredClone(s.default) : null);
  }
  const stage_uuid = randomUUID();
  await tx.insertInto('stages').values({ stage_uuid, name: seed.name, kind: seed.kind }).execute();
  await tx
    .insertInto(def.table as 'stages')
    .values({ stage_uuid, ...apiToRow(props, values) } as never)
    .execute();
  return stage_uuid;
}

/** creates the flow with its stages unless a flow of that slug exists; whether it did */
export async function ensureFlow(
  db: DB,
  flow: Record<string, unknown>,
  stages: StageSeed[],
  after?: (tx: Tx) => Promise<void>,
): Promise<boolean> {
  const slug = flow.slug as string;
  if (await db.selectFrom('flows').select('flow_uuid').where('slug', '=', slug).executeTakeFirst()) return false;
  try {
    await db.transaction().execute(async (tx) => {
      const target = await insertFlow(tx, {
        background: '',
        policy_engine_mode: 'any',
        compatibility_mode: false,
        layout: 'stacked',
        denied_action: 'message_continue',
        authentication: 'none',
        ...flow,
      });
      let order = 10;
      for (const seed of stages) {
        const stage = await ensureStage(tx, seed);
        await insertBinding(tx, bindingDefaults(target, stage, seed.order ?? order));
        order += 10;
      }
      if (after) await after(tx);
    });
    return true;
  } catch (e) {
    // another node created it at the same moment
    if (!(await db.selectFrom('flows').select('flow_uuid').where('slug', '=', slug).executeTakeFirst())) throw e;
    return false;
  }
}

export async function ensureDefaultFlows(db: DB) {
  const fresh = await ensureFlow(
    db,
    { slug: 'default-authentication-flow', name: 'Welcome to Keystage!', title: 'Welcome to Keystage!', designation: 'authentication' },
    [
      // show_matched_user off: the next challenge shows what was typed, never the matched account's username or
      // initials, so an existing and an unknown identifier look the same (the API default stays authentik's true)
      {
        kind: 'identificationstage',
        name: 'default-authentication-identification',
        fields: { user_fields: ['username', 'email'], show_matched_user: false },
      },
      {
        kind: 'passwordstage',
        name: 'default-authentication-password',
        fields: {
          backends: ['authentik.core.auth.InbuiltBackend', 'authentik.sources.ldap.auth.LDAPBackend', 'authentik.core.auth.TokenBackend'],
        },
      },
      { kind: 'authenticatorvalidatestage', name: 'default-authentication-mfa-validation', fields: { not_configured_action: 'skip' } },
      // (order 100 as authentik's blueprint: its files that change this flow name the binding by it)
      { kind: 'userloginstage', name: 'default-authentication-login', fields: {}, order: 100 },
    ],
    // authentik's two policies: no password stage after a proven first factor, no MFA after a passkey
    bindDefaultAuthenticationPolicies,
  );
  await ensureFlow(
    db,
    { slug: 'default-invalidation-flow', name: 'Logout', title: 'Default Invalidation Flow', designation: 'invalidation' },
    [{ kind: 'userlogoutstage', name: 'default-invalidation-logout', fields: {} }],
  );
  await ensureFlow(
    db,
    {
      slug: 'default-provider-authorization-implicit-consent',
      name: 'Authorize Application',
      title: 'Redirecting to %(app)s',
      designation: 'authorization',
      authentication: 'require_authenticated',
    },
    [],
  );
  await ensureFlow(
    db,
    {
      slug: 'default-provider-authorization-explicit-consent',
      name: 'Authorize Application',
      title: 'Redirecting to %(app)s',
      designation: 'authorization',
      authentication: 'require_authenticated',
    },
    [{ kind: 'consentstage', name: 'default-provider-authorization-consent', fields: { mode: 'expiring' }, order: 0 }],
  );
  await ensureFlow(
    db,
    {
      slug: 'default-provider-invalidation-flow',
      name: 'Logout',
      title: "You've logged out of %(app)s.",
      designation: 'invalidation',
      authentication: 'none',
    },
    [],
  );
  // what a source's login runs (authentik's default source flows): no effect until a source names them
  await ensureDefaultSourceFlows(db);
  // only with a new default login flow: sign-up, password recovery, account deletion and the person's own settings,
  // password change and authenticator setup flows are not opened on an install that had none (nor the lockdown flows)
  if (fresh) {
    await ensureDefaultEnrollmentFlow(db);
    await ensureDefaultRecoveryFlow(db);
    await ensureDefaultUnenrollmentFlow(db);
    await ensureUserSettingsFlows(db);
    await ensureDefaultLockdownFlows(db);
  }
}
