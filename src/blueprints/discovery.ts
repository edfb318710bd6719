/**
 * Blueprint discovery (authentik's `blueprints_discovery` and its file watcher): at start, on its schedule (hourly by
 * default, `/tasks/schedules/`; `blueprintsDiscovery` below is the actor) and soon after
 * a file of the blueprints folder changes, each file gets its instance (named by its metadata, else its path;
 * none for a file labelled `blueprints.goauthentik.io/instantiate: "false"`) and is applied when its hash differs
 * from the one last applied — as the system, with every permission, like authentik's worker. Then the instances of
 * files gone are deleted (authentik's `clear_failed_blueprints`).
 *
 * Several nodes discover at once: an instance is made inside a transaction holding the configuration lock (the
 * second node then finds it), and its application checks and records the hash inside the import's own transaction
 * (`applyInstance(…, ifChanged)`), so one node applies a changed file and the others find it applied.
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyRequest } from 'fastify';
import type { Caller } from '../rest/auth.js';
import type { ApiRouter } from '../rest/routes.js';
import type { UsersTable } from '../db/types.js';
import { lockConfigEpoch } from '../db/config-epoch.js';
import type { Services } from '../services.js';
import { type BlueprintFile, BlueprintRetrievalFailed, findBlueprintFiles, readBlueprintFile } from './files.js';
import { OCI } from './retrieve.js';
import { applyInstance } from './instances.js';
import { type BlueprintInstancesTable, newInstanceRow } from './table.js';
import type { Actor } from '../tasks/actor.js';

const LABEL_INSTANTIATE = 'blueprints.goauthentik.io/instantiate';
/** a burst of file events (an editor's save, a copied folder) starts one discovery this long after the last */
const SETTLE_MS = 500;

/** who applies discovered files: the system, with every permission (its audit events name no user, as authentik's) */
const SYSTEM: Caller = {
  user: { id: 0, uuid: '', username: 'system', name: 'Keystage', email: '' } as UsersTable,
  superuser: true,
  via: 'token',
};

/** the request discovery's writes run under (resources read its host; audit events its caller and address) */
function systemRequest(svc: Services): FastifyRequest {
  const host = svc.config.externalUrl?.host ?? 'localhost';
  return {
    host,
    hostname: host,
    protocol: svc.config.externalUrl?.protocol.replace(':', '') ?? 'http',
    headers: { host },
    ip: null,
    method: 'POST',
    url: '/',
    query: {},
    params: {},
    cookies: {},
    body: {},
  } as unknown as FastifyRequest;
}

/** the instance of `file`, made when missing (undefined: the file asks for none, or its name is another's) */
async function instanceOf(svc: Services, file: BlueprintFile): Promise<BlueprintInstancesTable | undefined> {
  if (String(file.meta?.labels?.[LABEL_INSTANTIATE] ?? '').toLowerCase() === 'false') return undefined;
  return svc.db.transaction().execute(async (tx) => {
    await lockConfigEpoch(tx);
    const found = await tx.selectFrom('blueprint_instances').selectAll().where('path', '=', file.path).orderBy('name').executeTakeFirst();
    if (found) return found;
    const name = file.meta?.name ?? file.path;
    const taken = await tx.selectFrom('blueprint_instances').select('instance_uuid').where('name', '=', name).executeTakeFirst();
    if (taken) return undefined;
    const row = newInstanceRow({ name, path: file.path, context: '{}', content: '', enabled: 1 });
    await tx.insertInto('blueprint_instances').values(row).execute();
    return row;
  });
}

/** one discovery: every file's instance made and, when its file changed, applied; the outcomes by path */
export async function discoverBlueprints(
  router: ApiRouter,
  svc: Services,
  onError: (err: unknown) => void = () => {},
): Promise<Map<string, string>> {
  const outcomes = new Map<string, string>();
  const req = systemRequest(svc);
  // every file's instance first, then the applications: a file's `metaapplyblueprint` entries find the instances of
  // the files after it too
  const found: [BlueprintFile, BlueprintInstancesTable | undefined][] = [];
  for (const file of await findBlueprintFiles(svc.config.blueprintsDir)) found.push([file, await instanceOf(svc, file)]);
  for (const [file, row] of found) {
    if (!row) {
      outcomes.set(file.path, 'not instantiated');
      continue;
    }
    if (!row.enabled || row.last_applied_hash === file.hash) {
      outcomes.set(file.path, row.enabled ? 'unchanged' : 'disabled');
      continue;
    }
    let result: Awaited<ReturnType<typeof applyInstance>>;
    try {
      result = await applyInstance(router, svc, req, SYSTEM, row, true);
    } catch (e) {
      // (an unexpected failure of one file: recorded on its instance and reported; the other files go on)
      await svc.db
        .updateTable('blueprint_instances')
        .set({ status: 'error', last_updated: new Date().toISOString() })
        .where('instance_uuid', '=', row.instance_uuid)
        .execute();
      onError(e);
      outcomes.set(file.path, 'error');
      continue;
    }
    outcomes.set(file.path, !result ? 'disabled' : result.skipped ? 'unchanged' : result.success ? 'applied' : 'error');
  }
  await clearFailed(svc, outcomes);
  return outcomes;
}

/**
 * authentik's `clear_failed_blueprints`: an instance whose file cannot be read any more (removed, renamed) is deleted —
 * not what it made. Not when the folder itself is missing or unreadable (a volume not mounted on this node): that
 * would delete every file's instance.
 */
async function clearFailed(svc: Services, outcomes: Map<string, string>) {
  const dir = svc.config.blueprintsDir;
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) return;
  const withPaths = await svc.db
    .selectFrom('blueprint_instances')
    .select(['instance_uuid', 'path'])
    .where('path', '!=', '')
    .where('path', 'not like', `${OCI}%`)
    .execute();
  for (const i of withPaths) {
    try {
      await readBlueprintFile(dir, i.path);
    } catch (e) {
      if (!(e instanceof BlueprintRetrievalFailed)) throw e;
      await svc.db.deleteFrom('blueprint_instances').where('instance_uuid', '=', i.instance_uuid).execute();
      outcomes.set(i.path, 'removed');
    }
  }
}

export interface BlueprintDiscovery {
  /** discover soon (a file changed) */
  kick(): void;
  /** a discovery starting now (after the one under way, if any), to its end */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

export function startBlueprintDiscovery(
  router: ApiRouter,
  svc: Services,
  onError: (err: unknown) => void,
  opts: {
    /** a pass this often besides the schedule's (tests) */
    everyMs?: number;
    watch?: boolean;
    /** what a discovery did, by file path (applied, error, removed), when it did anything */
    onOutcomes?: (outcomes: Record<string, string>) => void;
  } = {},
): BlueprintDiscovery {
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  let settle: NodeJS.Timeout | undefined;
  const look = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = discoverBlueprints(router, svc, onError)
      .then((outcomes) => {
        const news = [...outcomes].filter(([, o]) => o !== 'unchanged' && o !== 'not instantiated' && o !== 'disabled');
        if (news.length) opts.onOutcomes?.(Object.fromEntries(news));
      })
      .catch(onError)
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          void look();
        }
      });
    return running;
  };
  const timer = opts.everyMs ? setInterval(look, opts.everyMs).unref() : undefined;
  let watcher: FSWatcher | undefined;
  if (opts.watch !== false) {
    try {
      watcher = watch(svc.config.blueprintsDir, { recursive: true, persistent: false }, () => {
        clearTimeout(settle);
        settle = setTimeout(look, SETTLE_MS).unref();
      });
      watcher.on('error', () => watcher?.close());
    } catch {
      // (no blueprints folder: the hourly discovery finds one made later)
    }
  }
  setImmediate(look);
  return {
    kick: () => {
      clearTimeout(settle);
      settle = setTimeout(look, SETTLE_MS).unref();
    },
    settled: async () => {
      // (a discovery under way may have listed the folder before a change: one more follows it)
      if (running) again = true;
      else void look();
      while (running) await running;
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearTimeout(settle);
      watcher?.close();
      await running;
    },
  };
}

/** the scheduled discovery: a pass on the node that runs the task (the others' file watchers see their own changes) */
export const blueprintsDiscovery: Actor = {
  name: 'authentik.blueprints.v1.tasks.blueprints_discovery',
  description: 'Find blueprints and check if they need to be created in the database.',
  crontab: '{m} * * * *',
  async run({ blueprints, log }) {
    if (!blueprints) throw new Error('blueprint discovery does not run on this node');
    await blueprints.settled();
    log('info', 'Blueprints discovered');
  },
};
