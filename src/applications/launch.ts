/**
 * Launch URLs as authentik computes them (Application.get_launch_url): the application's meta_launch_url, else its
 * provider's (the type's `launchUrl` hook: OAuth2 takes its first redirect URI without the path), formatted with the
 * user's fields (`%(username)s`); a URL that does not format is returned as it is.
 */
import type { DB } from '../db/index.js';
import type { UsersTable } from '../db/types.js';
import { providerTypeByKind } from '../providers/registry.js';
import { providerRows } from '../providers/resource.js';
import type { ProviderRow } from '../providers/types.js';

/** each provider's launch URL, by provider id */
export async function providerLaunchUrls(db: DB, ids: number[]): Promise<Map<number, string | null>> {
  const out = new Map<number, string | null>();
  if (!ids.length) return out;
  const kinds = await db.selectFrom('providers').select(['id', 'kind']).where('id', 'in', ids).execute();
  const byKind = new Map<string, number[]>();
  for (const k of kinds) byKind.set(k.kind, [...(byKind.get(k.kind) ?? []), Number(k.id)]);
  for (const [kind, pids] of byKind) {
    const def = providerTypeByKind(kind);
    if (!def?.launchUrl) continue;
    const rows = (await providerRows(db, def).where('p.id', 'in', pids).execute()) as unknown as ProviderRow[];
    for (const r of rows) out.set(Number(r.id), (await def.launchUrl(db, r)) ?? null);
  }
  return out;
}

/** Python's `url % user.__dict__` for `%(name)s` placeholders; the URL unchanged when a name is unknown or the format is bad */
export function formatLaunchUrl(url: string, user: UsersTable | undefined): string {
  if (!user || !url.includes('%')) return url;
  const fields: Record<string, unknown> = {
    id: user.id,
    pk: user.id,
    username: user.username,
    name: user.name,
    email: user.email,
    uuid: user.uuid,
    path: user.path,
    type: user.type,
    is_active: !!user.is_active,
  };
  let ok = true;
  const out = url.replace(/%(?:\(([^)]*)\)([sdr])|(%)|(.?))/g, (_m, name: string | undefined, conv: string, pct: string, other: string) => {
    if (pct) return '%';
    if (name === undefined) {
      ok = false;
      return other ?? '';
    }
    if (!(name in fields)) {
      ok = false;
      return '';
    }
    const v = fields[name];
    if (conv === 'd') {
      if (typeof v !== 'number') ok = false;
      return String(v);
    }
    return typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
  });
  return ok ? out : url;
}
