/**
 * The seeds' writable `flow_set`: each entry names a flow by slug; a missing flow is created from the entry
 * (validated like a flow create) and the stage is appended to every listed flow it is not yet bound to.
 * Bindings are never removed this way. Runs inside the stage write's transaction.
 */
import { ValidationError, type FieldErrors } from '../../rest/errors.js';
import type { Tx } from '../../rest/resource.js';
import { validateBody, pyType, MAX_LIST_ITEMS } from '../../rest/validate.js';
import type { DB } from '../../db/index.js';
import { flowProps } from './schema.js';
import { appendBinding, insertFlow } from '../store.js';

export type FlowSetEntry = { flow_uuid: string } | { create: Record<string, unknown> };

/** Validates `body.flow_set`; undefined when the key is absent or null. */
export async function parseFlowSet(db: DB, body: unknown): Promise<FlowSetEntry[] | undefined> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const raw = (body as Record<string, unknown>).flow_set;
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) throw new ValidationError({ flow_set: [`Expected a list of items but got type "${pyType(raw)}".`] });
  if (raw.length > MAX_LIST_ITEMS)
    throw new ValidationError({ flow_set: [`Ensure this field has no more than ${MAX_LIST_ITEMS} elements.`] });
  const entries: FlowSetEntry[] = [];
  const itemErrors: FieldErrors[] = [];
  let failed = false;
  const seen = new Map<string, FlowSetEntry>();
  for (const item of raw) {
    if (!item || typeof item !== 'object' || Array.isArray(item)) {
      itemErrors.push({ non_field_errors: [`Invalid data. Expected a dictionary, but got ${pyType(item)}.`] });
      failed = true;
      continue;
    }
    const slug = (item as Record<string, unknown>).slug;
    if (typeof slug === 'string' && seen.has(slug.trim())) {
      itemErrors.push({});
      continue;
    }
    const existing =
      typeof slug === 'string'
        ? await db.selectFrom('flows').select('flow_uuid').where('slug', '=', slug.trim()).executeTakeFirst()
        : undefined;
    try {
      const entry: FlowSetEntry = existing
        ? { flow_uuid: existing.flow_uuid }
        : { create: await validateBody(flowProps, item, { mode: 'create', db }) };
      entries.push(entry);
      if (typeof slug === 'string') seen.set(slug.trim(), entry);
      itemErrors.push({});
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      itemErrors.push(e.errors as FieldErrors);
      failed = true;
    }
  }
  if (failed) throw new ValidationError({ flow_set: itemErrors as unknown as FieldErrors });
  return entries;
}

export async function applyFlowSet(tx: Tx, stageId: string, entries: FlowSetEntry[] | undefined): Promise<void> {
  if (!entries) return;
  for (const e of entries) {
    const flow = 'flow_uuid' in e ? e.flow_uuid : await insertFlow(tx, e.create);
    await appendBinding(tx, flow, stageId);
  }
}
