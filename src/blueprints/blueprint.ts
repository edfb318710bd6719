/**
 * A blueprint as authentik reads one (authentik/blueprints/v1/common.py `Blueprint`, `BlueprintEntry`): `version`,
 * `entries` (a list, or sections of lists), `context`, `metadata`. Parsed from YAML with the blueprint tags;
 * a document that is not YAML, uses an unknown tag or has the wrong shape is refused with what is wrong.
 */
import { blueprintTags, isMap, Tag } from './tags.js';

export type EntryState = 'present' | 'created' | 'must_created' | 'absent';
export const ENTRY_STATES: readonly EntryState[] = ['present', 'created', 'must_created', 'absent'];

export interface BlueprintEntry {
  model: unknown;
  state: unknown;
  conditions: unknown[];
  identifiers: Record<string, unknown>;
  attrs: Record<string, unknown>;
  permissions: unknown[];
  id: string | undefined;
}

export interface Blueprint {
  version: number;
  entries: BlueprintEntry[];
  context: Record<string, unknown>;
  metadata: { name: string; labels: Record<string, string> } | undefined;
}

export class BlueprintInvalid extends Error {}

function readEntry(raw: unknown, where: string): BlueprintEntry {
  if (!isMap(raw)) throw new BlueprintInvalid(`${where}: an entry is a mapping`);
  if (raw.model === undefined) throw new BlueprintInvalid(`${where}: missing value for field "model"`);
  const map = (k: string): Record<string, unknown> => {
    const v = raw[k];
    if (v === undefined || v === null) return {};
    if (!isMap(v)) throw new BlueprintInvalid(`${where}: wrong value type for field "${k}" - should be "dict"`);
    return v;
  };
  const list = (k: string): unknown[] => {
    const v = raw[k];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new BlueprintInvalid(`${where}: wrong value type for field "${k}" - should be "list"`);
    return v;
  };
  const state = raw.state ?? 'present';
  if (!(state instanceof Tag) && !ENTRY_STATES.includes(state as EntryState))
    throw new BlueprintInvalid(`${where}: '${String(state)}' is not a valid BlueprintEntryDesiredState`);
  if (raw.id !== undefined && raw.id !== null && typeof raw.id !== 'string')
    throw new BlueprintInvalid(`${where}: wrong value type for field "id" - should be "str"`);
  return {
    model: raw.model,
    state,
    conditions: list('conditions'),
    identifiers: map('identifiers'),
    attrs: map('attrs'),
    permissions: list('permissions'),
    id: (raw.id as string | null | undefined) ?? undefined,
  };
}

/** the YAML document, with the blueprint tags, as a mapping */
async function loadMapping(text: string): Promise<Record<string, unknown>> {
  // (the YAML library is loaded when a blueprint is first read, not at start)
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(text, { customTags: blueprintTags, prettyErrors: false, uniqueKeys: true });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw new BlueprintInvalid(problem.message.split('\n')[0]!);
  const raw = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (!isMap(raw)) throw new BlueprintInvalid('A blueprint is a mapping with `version` and `entries`');
  return raw;
}

/** a file's `version` and `metadata` as the blueprints folder lists them (undefined: not a blueprint's YAML) */
export async function readBlueprintHeader(text: string): Promise<{ version: unknown; metadata: Blueprint['metadata'] } | undefined> {
  const raw = await loadMapping(text).catch((e: unknown) => {
    if (e instanceof BlueprintInvalid) return undefined;
    throw e;
  });
  if (!raw) return undefined;
  const m = raw.metadata;
  const metadata =
    isMap(m) && typeof m.name === 'string'
      ? { name: m.name, labels: isMap(m.labels) ? (m.labels as Record<string, string>) : {} }
      : undefined;
  return { version: raw.version ?? 1, metadata };
}

export async function parseBlueprint(text: string): Promise<Blueprint> {
  const raw = await loadMapping(text);
  const version = raw.version ?? 1;
  if (typeof version !== 'number') throw new BlueprintInvalid('wrong value type for field "version" - should be "int"');
  const rawEntries = raw.entries ?? [];
  let entries: BlueprintEntry[];
  if (Array.isArray(rawEntries)) entries = rawEntries.map((e, i) => readEntry(e, `entries[${i}]`));
  else if (isMap(rawEntries))
    entries = Object.entries(rawEntries).flatMap(([section, list]) => {
      if (!Array.isArray(list)) throw new BlueprintInvalid(`entries.${section}: a section is a list of entries`);
      return list.map((e, i) => readEntry(e, `entries.${section}[${i}]`));
    });
  else throw new BlueprintInvalid('wrong value type for field "entries" - should be "list"');
  if (raw.context !== undefined && raw.context !== null && !isMap(raw.context))
    throw new BlueprintInvalid('wrong value type for field "context" - should be "dict"');
  let metadata: Blueprint['metadata'];
  if (isMap(raw.metadata)) {
    if (typeof raw.metadata.name !== 'string') throw new BlueprintInvalid('missing value for field "metadata.name"');
    metadata = { name: raw.metadata.name, labels: isMap(raw.metadata.labels) ? (raw.metadata.labels as Record<string, string>) : {} };
  }
  return { version, entries, context: (raw.context as Record<string, unknown> | undefined) ?? {}, metadata };
}
