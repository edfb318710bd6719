/**
 * Where a blueprint instance's text comes from (authentik's BlueprintInstance.retrieve): its file of the blueprints
 * folder, read each time, or its `content`; and the instance a `metaapplyblueprint` entry names, ready to apply.
 */
import { readFile } from 'node:fs/promises';
import type { Tx } from '../rest/resource.js';
import type { Services } from '../services.js';
import { type Blueprint, BlueprintInvalid, parseBlueprint } from './blueprint.js';
import { BlueprintRetrievalFailed, hashOf, readBlueprintFile } from './files.js';
import type { NestedBlueprint } from './importer.js';
import type { BlueprintInstancesTable } from './table.js';
import type { TagScope } from './tags.js';

type Row = BlueprintInstancesTable;

export const OCI = 'oci://';

/** `!Env` and `!File` for a blueprint file's import: the process's environment, any file the server may read */
export const serverReads: NonNullable<TagScope['serverReads']> = {
  env: (key) => process.env[key],
  file: (path) => readFile(path, 'utf8').catch(() => undefined),
};

/** an instance's blueprint text: its file's (read now) or its `content` */
export async function retrieve(svc: Services, row: Pick<Row, 'path' | 'content'>): Promise<string> {
  if (row.path.startsWith(OCI)) throw new BlueprintRetrievalFailed('OCI blueprints are not supported by Keystage');
  return row.path !== '' ? readBlueprintFile(svc.config.blueprintsDir, row.path) : row.content;
}

/** the instance a `metaapplyblueprint` entry names (authentik filters instances by its identifiers) */
export function findInstance(svc: Services): (tx: Tx, identifiers: Record<string, unknown>) => Promise<NestedBlueprint | undefined> {
  return async (tx, identifiers) => {
    let q = tx.selectFrom('blueprint_instances').selectAll();
    for (const [k, v] of Object.entries(identifiers)) {
      if (typeof v !== 'string') return undefined;
      q = q.where(k === 'pk' ? 'instance_uuid' : (k as 'name' | 'path' | 'instance_uuid'), '=', v);
    }
    const row = (await q.orderBy('name').executeTakeFirst()) as Row | undefined;
    if (!row) return undefined;
    let blueprint: Blueprint | string;
    let text = '';
    try {
      text = await retrieve(svc, row);
      blueprint = await parseBlueprint(text);
    } catch (e) {
      if (!(e instanceof BlueprintInvalid) && !(e instanceof BlueprintRetrievalFailed)) throw e;
      blueprint = e.message;
    }
    return {
      uuid: row.instance_uuid,
      name: row.name,
      enabled: !!row.enabled,
      blueprint,
      context: JSON.parse(row.context || '{}'),
      ...(row.path !== '' ? { serverReads } : {}),
      // (as its own application would: discovery then finds this text applied)
      applied: async (tx2) => {
        const now = new Date().toISOString();
        await tx2
          .updateTable('blueprint_instances')
          .set({
            status: 'successful',
            last_applied: now,
            last_updated: now,
            last_applied_hash: hashOf(text),
            metadata: JSON.stringify(typeof blueprint === 'string' ? {} : (blueprint.metadata ?? {})),
          })
          .where('instance_uuid', '=', row.instance_uuid)
          .execute();
      },
    };
  };
}
