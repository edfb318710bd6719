/**
 * The blueprints folder (`KEYSTAGE_BLUEPRINTS_DIR`, authentik's `blueprints_dir`): every `*.yaml` file under it,
 * hidden files and folders left out, that is YAML of blueprint version 1 (authentik's `blueprints_find`), and the
 * text of one of them by its path relative to the folder — never a file outside it (no `..`, no absolute path, no
 * symbolic link leading out).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { readBlueprintHeader } from './blueprint.js';

/** authentik's BlueprintFile as `available/` answers it */
export interface BlueprintFile {
  path: string;
  version: number;
  /** SHA-512 (hex) of the file's bytes: an instance whose `last_applied_hash` differs is applied again */
  hash: string;
  last_m: string;
  meta: { name: string; labels: Record<string, string> } | null;
}

export class BlueprintRetrievalFailed extends Error {}

/** a file's largest accepted size (as an upload's) */
const FILE_LIMIT = 5 * 1024 * 1024;

export const hashOf = (text: string | Buffer) => createHash('sha512').update(text).digest('hex');

const hidden = (rel: string) => rel.split(/[\\/]/).some((part) => part.startsWith('.'));

/** the real path of `rel` under `dir`, or why it may not be read */
async function resolveInside(dir: string, rel: string): Promise<string> {
  if (rel === '' || isAbsolute(rel) || rel.split(/[\\/]/).includes('..') || hidden(rel))
    throw new BlueprintRetrievalFailed(`${rel}: not a path inside the blueprints folder`);
  let root: string;
  let real: string;
  try {
    root = await realpath(dir);
    real = await realpath(join(root, rel));
  } catch (e) {
    throw new BlueprintRetrievalFailed(`${rel}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  const inside = relative(root, real);
  if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside))
    throw new BlueprintRetrievalFailed(`${rel}: leads outside the blueprints folder`);
  return real;
}

async function readBytes(real: string, rel: string): Promise<Buffer> {
  const st = await stat(real).catch(() => undefined);
  if (!st?.isFile()) throw new BlueprintRetrievalFailed(`${rel}: not a file`);
  if (st.size > FILE_LIMIT) throw new BlueprintRetrievalFailed(`${rel}: larger than ${FILE_LIMIT} bytes`);
  return readFile(real);
}

/** the text of the blueprint file `rel` (relative to `dir`) */
export async function readBlueprintFile(dir: string, rel: string): Promise<string> {
  const bytes = await readBytes(await resolveInside(dir, rel), rel);
  return bytes.toString('utf8');
}

/** every blueprint file under `dir`, by path (none when the folder does not exist) */
export async function findBlueprintFiles(dir: string): Promise<BlueprintFile[]> {
  let names: string[];
  try {
    names = (await readdir(dir, { recursive: true })) as string[];
  } catch {
    return [];
  }
  const files: BlueprintFile[] = [];
  for (const rel of names.filter((n) => n.endsWith('.yaml') && !hidden(n)).sort()) {
    let bytes: Buffer;
    try {
      bytes = await readBytes(await resolveInside(dir, rel), rel);
    } catch {
      continue; // (a link out of the folder, a folder named *.yaml, a file too large)
    }
    const header = await readBlueprintHeader(bytes.toString('utf8')).catch(() => undefined);
    if (!header || header.version !== 1) continue;
    const st = await stat(join(dir, rel));
    files.push({
      path: rel.split(sep).join('/'),
      version: 1,
      hash: hashOf(bytes),
      last_m: new Date(Math.floor(st.mtimeMs / 1000) * 1000).toISOString(),
      meta: header.metadata ?? null,
    });
  }
  return files;
}
