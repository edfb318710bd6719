/**
 * authentik's file storage for media, kept in the database (table `media_files`, migration 0043) so that every node
 * serves every file: uploaded images named as authentik names them (`validate_upload_file_name`), each with the MIME
 * type its name gives. An image field (an application's or source's icon, a flow's background, a brand's logo,
 * favicon and default background) holds such a name, a built-in static path or an external URL; brands/assets.ts
 * turns each into the URL a browser loads (`/files/media/public/<name>` for an uploaded one).
 */
import type { DB } from '../db/index.js';

export interface MediaFilesTable {
  name: string;
  mime_type: string;
  size: number;
  content: Uint8Array;
  created: string;
}

declare module '../db/types.js' {
  interface Database {
    media_files: MediaFilesTable;
  }
}

/** authentik's limit (admin/files/api.py `MAX_FILE_SIZE_BYTES`) */
export const MAX_FILE_BYTES = 25 * 1024 * 1024;

/** authentik's usages an admin may upload to (`FileApiUsage`): media only */
export const USAGES = ['media'] as const;

/** a file name's MIME type by its extension (Python's `mimetypes.guess_type` for the images a browser shows) */
const MIME_BY_EXTENSION: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  jpe: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  ico: 'image/vnd.microsoft.icon',
  bmp: 'image/bmp',
  avif: 'image/avif',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  // (what an upload must not be, named in the refusal)
  html: 'text/html',
  htm: 'text/html',
  js: 'text/javascript',
  css: 'text/css',
  txt: 'text/plain',
  json: 'application/json',
  xml: 'application/xml',
  pdf: 'application/pdf',
};

export function mimeTypeOf(name: string): string {
  const ext = name.split('/').pop()?.split('.').slice(1).pop()?.toLowerCase() ?? '';
  return MIME_BY_EXTENSION[ext] ?? 'application/octet-stream';
}

/** authentik's allowed media: images only (admin/files/validation.py `ALLOWED_MIME_TYPES`) */
export const isImage = (mime: string) => mime.startsWith('image/');

export async function listFiles(db: DB, search?: string): Promise<{ name: string; mime_type: string }[]> {
  const rows = await db.selectFrom('media_files').select(['name', 'mime_type']).orderBy('name').execute();
  // (authentik's `search_query in file.lower()`: the term as given, the name in lower case)
  return search ? rows.filter((r) => r.name.toLowerCase().includes(search)) : rows;
}

/** stores a new file; false when one of that name exists (one INSERT: of two uploads of a name, one wins) */
export async function saveFile(db: DB, name: string, content: Uint8Array): Promise<boolean> {
  const r = await db
    .insertInto('media_files')
    .values({ name, mime_type: mimeTypeOf(name), size: content.byteLength, content, created: new Date().toISOString() })
    .onConflict((oc) => oc.column('name').doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function deleteFile(db: DB, name: string): Promise<void> {
  await db.deleteFrom('media_files').where('name', '=', name).execute();
}

export async function readFile(db: DB, name: string): Promise<Pick<MediaFilesTable, 'mime_type' | 'content' | 'created'> | undefined> {
  return db.selectFrom('media_files').select(['mime_type', 'content', 'created']).where('name', '=', name).executeTakeFirst();
}
