/** The one list of provider types. Adding a type: its folder under src/providers/, and one line here. */
import type { ProviderDef, ProviderStage } from './types.js';
import type { ChallengeDef } from '../flows/engine/challenge-types.js';
import type { SecretColumn } from '../instance/secrets.js';
import type { KeyPairReference } from '../crypto/resource.js';
import { oauth2Provider } from './oauth2/index.js';
import { samlProvider } from './saml/index.js';
import { scimProvider } from './scim/index.js';
import { ssfProvider } from './ssf/index.js';
import { wsfedProvider } from './wsfed/index.js';

export const providerTypes: ProviderDef[] = [oauth2Provider, samlProvider, scimProvider, ssfProvider, wsfedProvider];

const byKind = new Map(providerTypes.map((d) => [d.kind, d]));
export const providerTypeByKind = (kind: string) => byKind.get(kind);

const stagesByKind = new Map<string, ProviderStage>(providerTypes.flatMap((d) => (d.stages ?? []).map((s) => [s.kind, s] as const)));
/** an in-memory stage of a provider type (the executor runs it as any stage; its configuration is its name) */
export const providerStageByKind = (kind: string) => stagesByKind.get(kind);
/** the in-memory stages' challenge components */
export const providerStageChallenges = (): ChallengeDef[] => [...stagesByKind.values()].flatMap((s) => s.challenges);

/** every provider type's start work (its managed property mappings), after the migrations */
export async function providerStart(db: import('../db/index.js').DB): Promise<void> {
  for (const d of providerTypes) await d.atStart?.(db);
}

export function providerMigrations() {
  return Object.assign({}, ...providerTypes.map((d) => d.migrations));
}

/** the API's bearer credentials the provider types issue (authentik's OAuth2 access tokens with the API scope) */
export const providerBearerLookups = () => providerTypes.flatMap((d) => (d.apiBearer ? [d.apiBearer] : []));

/** every provider type's tables of grants to users (`user_id`): what an account lockdown revokes */
export const providerUserGrantTables = (): string[] => providerTypes.flatMap((d) => d.userGrantTables ?? []);

/** every provider type's expired objects deleted (the hourly clean-up); how many of each kind */
export async function providerHousekeeping(db: import('../db/index.js').DB): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const d of providerTypes) Object.assign(counts, await d.purgeExpired?.(db));
  return counts;
}

/** every provider type's secret columns, stored encrypted */
export function providerSecretColumns(): SecretColumn[] {
  return providerTypes.flatMap((d) => [
    ...(d.secretColumns ?? []).map((column) => ({ table: d.table, pk: 'provider_id', column })),
    ...(d.moreSecretColumns ?? []),
  ]);
}

/** every provider type's columns referencing certificate-key pairs (the pairs' used_by; set to null with the pair) */
export function providerKeyPairReferences(): KeyPairReference[] {
  return providerTypes.flatMap((d) =>
    (d.keyPairColumns ?? []).map((column) => ({
      table: d.table,
      column,
      pk: 'provider_id',
      name: 'name',
      nameFrom: { table: 'providers', key: 'id' },
      app: d.app,
      model_name: d.kind,
      action: 'set_null' as const,
    })),
  );
}

/** provider columns holding a JSON list of `table`'s keys (OAuth2's `jwt_federation_sources`): emptied of a deleted row's key */
export function providerJsonListReferences(table: string): { table: string; column: string; pk: string }[] {
  return providerTypes.flatMap((d) =>
    Object.entries(d.fields)
      .filter(([, s]) => (s['x-m2m'] as { table?: string } | undefined)?.table === table && !s['x-m2m-table'])
      .map(([column]) => ({ table: d.table, column, pk: 'provider_id' })),
  );
}
