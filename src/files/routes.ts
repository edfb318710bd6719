/**
 * `/admin/file/` (authentik's FileView: list, upload, delete; `authentik_rbac.view_media_files` to list,
 * `manage_media_files` to change), `/admin/file/used_by/` (the objects whose image fields name a file), and the files
 * themselves at `/files/media/public/<name>`, the URL names.ts gives an uploaded image.
 *
 * The files are served to anyone (a login page shows the brand's logo and the flow's background before anyone is
 * logged in) as images only: the stored MIME type, `nosniff`, and a content security policy that runs nothing, so an
 * uploaded SVG cannot run script on Keystage's origin.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { assetUrl, MEDIA_PATH, themedAssetUrls, uploadNameError } from './names.js';
import type { DB } from '../db/index.js';
import { requirePermission, hasGlobal } from '../rbac/check.js';
import { requireCaller } from '../rest/auth.js';
import { ValidationError } from '../rest/errors.js';
import { acceptMultipart } from '../rest/multipart.js';
import { type ColumnReference, referencesUsedBy } from '../rest/references.js';
import type { UsedBy } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import type { Services } from '../services.js';
import { deleteFile, isImage, listFiles, MAX_FILE_BYTES, mimeTypeOf, readFile, saveFile, USAGES } from './store.js';

const VIEW = 'authentik_rbac.view_media_files';
const MANAGE = 'authentik_rbac.manage_media_files';

/**
 * the `usage` of an upload (a form field: authentik's message) or of a query (a choice: DRF's, on the parameter);
 * authentik's FileApiUsage has media only
 */
function usageOf(value: unknown, query = false): string {
  const usage = value === undefined || value === null || value === '' ? 'media' : String(value);
  if ((USAGES as readonly string[]).includes(usage)) return usage;
  if (query) throw ValidationError.field('usage', `"${usage}" is not a valid choice.`);
  throw new ValidationError([`Invalid usage parameter provided: ${usage}`]);
}

/** authentik's `validate_upload_file_name` (a 400 with its message) */
function checkName(name: string) {
  const error = uploadNameError(name);
  if (error) throw new ValidationError([error]);
  // (such a name is a built-in file's: an image field naming it shows that one)
  if (name.startsWith('web/dist/assets')) throw new ValidationError(["Names under web/dist/assets are Keystage's built-in files."]);
}

/** the query's parameters, each as a string (a repeated one: its last value, as Django's QueryDict) */
const queryOf = (req: FastifyRequest): Record<string, string | undefined> =>
  Object.fromEntries(
    Object.entries((req.query ?? {}) as Record<string, unknown>).map(([k, v]) => [k, Array.isArray(v) ? String(v.at(-1)) : String(v)]),
  );

/**
 * The objects whose image fields name the file, of the models the caller may view (authentik's `used_by` of a file:
 * deleting it leaves their fields naming nothing), by model in the order given, then by name; an object naming it in
 * several fields (a brand's logo and favicon) once
 */
async function usedBy(db: DB, req: FastifyRequest, references: ColumnReference[], name: string): Promise<UsedBy[]> {
  const caller = requireCaller(req);
  const models = [...new Set(references.map((r) => `${r.app}.${r.model_name}`))];
  const found = new Map<string, UsedBy>();
  for (const model of models) {
    const [app, model_name] = model.split('.');
    if (!caller.superuser && !(await hasGlobal(db, caller, `${app}.view_${model_name}`))) continue;
    const refs = references.filter((r) => r.app === app && r.model_name === model_name);
    const rows = (await referencesUsedBy(db, refs, name)).sort((a, b) => a.name.localeCompare(b.name));
    for (const u of rows) found.set(`${model}:${u.pk}`, u);
  }
  return [...found.values()];
}

export function mountFiles(router: ApiRouter, app: FastifyInstance, svc: Services, opts: { references: () => ColumnReference[] }) {
  const db = svc.db;
  router.component('UsageEnum', { type: 'string', enum: [...USAGES] });
  router.component('FileList', {
    type: 'object',
    description: "Base serializer class which doesn't implement create/update methods",
    properties: {
      name: { type: 'string' },
      mime_type: { type: 'string' },
      url: { type: 'string' },
      themed_urls: { allOf: [{ $ref: '#/components/schemas/ThemedUrls' }], nullable: true },
    },
    required: ['mime_type', 'name', 'url'],
  });
  router.component('FileUploadRequest', {
    type: 'object',
    description: "Base serializer class which doesn't implement create/update methods",
    properties: {
      file: { type: 'string', format: 'binary' },
      name: { type: 'string' },
      usage: { type: 'string', minLength: 1, default: 'media' },
    },
    required: ['file'],
  });
  const usageParam = { name: 'usage', schema: { allOf: [{ $ref: '#/components/schemas/UsageEnum' }], default: 'media', minLength: 1 } };

  router.app.register(async (scope) => {
    // (the form's other fields and its framing on top of the file)
    acceptMultipart(scope, MAX_FILE_BYTES + 64 * 1024);
    router.within(scope).route('/admin/file', {
      get: {
        doc: {
          operationId: 'admin_file_list',
          tag: 'admin',
          query: [
            { name: 'manageable_only', schema: { type: 'boolean', default: false } },
            { name: 'search', schema: { type: 'string' } },
            usageParam,
          ],
          response: { type: 'array', items: { $ref: '#/components/schemas/FileList' } },
        },
        handler: async (req) => {
          await requirePermission(db, req, VIEW);
          const q = queryOf(req);
          usageOf(q.usage, true);
          return (await listFiles(db, q.search)).map((f) => ({
            name: f.name,
            mime_type: f.mime_type,
            url: assetUrl(f.name),
            themed_urls: themedAssetUrls(f.name),
          }));
        },
      },
      post: {
        doc: {
          operationId: 'admin_file_create',
          tag: 'admin',
          body: 'FileUploadRequest',
          bodyRequired: true,
          bodyType: 'multipart/form-data',
          status: 200,
        },
        handler: async (req, reply) => {
          await requirePermission(db, req, MANAGE);
          const form = req.body instanceof FormData ? req.body : new FormData();
          const file = form.get('file');
          if (file === null || typeof file === 'string') throw ValidationError.field('file', 'No file was submitted.');
          if (file.size > MAX_FILE_BYTES)
            throw ValidationError.field('file', `File size (${file.size}B) exceeds maximum allowed size (${MAX_FILE_BYTES}B).`);
          const usage = usageOf(form.get('usage'));
          const given = form.get('name');
          const name = (typeof given === 'string' ? given.trim() : '') || file.name;
          checkName(name);
          const mime = mimeTypeOf(name);
          if (!isImage(mime)) throw ValidationError.field('file', `Files of type ${mime} cannot be uploaded as media: images only.`);
          if (!(await saveFile(db, name, new Uint8Array(await file.arrayBuffer()))))
            throw ValidationError.field('name', 'A file with this name already exists.');
          await router.audit?.(req, 'model_created', {
            model: { app: 'authentik_admin_files', model_name: 'File', pk: name, name, usage, mime_type: mime },
          });
          return reply.code(200).send();
        },
      },
      delete: {
        doc: {
          operationId: 'admin_file_destroy',
          tag: 'admin',
          query: [{ name: 'name', schema: { type: 'string' } }, usageParam],
          status: 200,
        },
        handler: async (req, reply) => {
          await requirePermission(db, req, MANAGE);
          const q = queryOf(req);
          if (q.name === undefined) throw ValidationError.field('name', 'This field is required.');
          checkName(q.name);
          const usage = usageOf(q.usage, true);
          await deleteFile(db, q.name);
          await router.audit?.(req, 'model_deleted', {
            model: { app: 'authentik_admin_files', model_name: 'File', pk: q.name, name: q.name, usage },
          });
          return reply.code(200).send();
        },
      },
    });
  });
  router.route('/admin/file/used_by', {
    get: {
      doc: {
        operationId: 'admin_file_used_by_list',
        tag: 'admin',
        query: [{ name: 'name', schema: { type: 'string' } }],
        response: { type: 'array', items: { $ref: '#/components/schemas/UsedBy' } },
      },
      handler: async (req) => {
        await requirePermission(db, req, VIEW);
        const name = queryOf(req).name;
        if (name === undefined) throw ValidationError.field('name', 'This field is required.');
        return usedBy(db, req, opts.references(), name);
      },
    },
  });

  // the files themselves, to anyone: images only, nothing in them runs
  app.get(`${MEDIA_PATH}*`, async (req, reply) => {
    const name = (req.params as { '*': string })['*'];
    const found = name && !uploadNameError(name) ? await readFile(db, name) : undefined;
    if (!found || !isImage(found.mime_type)) return reply.code(404).type('text/plain').send('Not Found');
    return reply
      .header('content-type', found.mime_type)
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox")
      .header('cache-control', 'public, max-age=300')
      .header('last-modified', new Date(found.created).toUTCString())
      .send(Buffer.from(found.content));
  });
}
