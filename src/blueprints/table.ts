/** The blueprint instances table (migration 0037_blueprint_instances). */
import { randomUUID } from 'node:crypto';

export interface BlueprintInstancesTable {
  instance_uuid: string;
  name: string;
  /** a blueprint file's path in the blueprints folder ("" for content kept in the row) */
  path: string;
  /** JSON object: the context `!Context` tags read */
  context: string;
  /** the blueprint's YAML */
  content: string;
  /** 0/1: an instance that is not enabled is never applied */
  enabled: number;
  /** successful | warning | error | orphaned | unknown */
  status: string;
  last_applied: string;
  /** SHA-512 (hex) of the content last applied */
  last_applied_hash: string;
  /** JSON list of the models the last application wrote (`app_label.model`) */
  managed_models: string;
  /** JSON object: the blueprint's `metadata` when it was last applied */
  metadata: string;
  created: string;
  last_updated: string;
}

/** a new instance's row: never applied yet (status `unknown`, no hash, no models, no metadata) */
export function newInstanceRow(
  given: Pick<BlueprintInstancesTable, 'name' | 'path' | 'context' | 'content' | 'enabled'>,
): BlueprintInstancesTable {
  const now = new Date().toISOString();
  return {
    ...given,
    instance_uuid: randomUUID(),
    status: 'unknown',
    last_applied: now,
    last_applied_hash: '',
    managed_models: '[]',
    metadata: '{}',
    created: now,
    last_updated: now,
  };
}

declare module '../db/types.js' {
  interface Database {
    blueprint_instances: BlueprintInstancesTable;
  }
}
