/**
 * /managed/blueprints/import/: a blueprint file uploaded and applied once (authentik's `import_`, which also took
 * over the older `/flows/instances/import/`), answering the importer's logs and whether it applied.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiRouter } from '../rest/routes.js';
import { Forbidden, ValidationError } from '../rest/errors.js';
import { acceptMultipart } from '../rest/multipart.js';
import { requireCaller } from '../rest/auth.js';
import { hasGlobal } from '../rbac/check.js';
import type { Services } from '../services.js';
import { BlueprintInvalid, parseBlueprint, type Blueprint } from './blueprint.js';
import { applyBlueprint, mayWrite, type ImportResult } from './importer.js';
import { findInstance } from './retrieve.js';
import { metaModels } from './meta.js';

/** an upload's largest accepted size (authentik has none; 5 MiB is far above any flow's export) */
const UPLOAD_LIMIT = 5 * 1024 * 1024;

/** every entry's model must be one the caller may add, change and delete (authentik's check_blueprint_perms) */
async function checkBlueprintPermissions(svc: Services, req: FastifyRequest, blueprint: Blueprint, reply: FastifyReply) {
  const caller = requireCaller(req);
  for (const entry of blueprint.entries) {
    if (typeof entry.model !== 'string') continue; // a tag: checked when the importer has resolved it
    if (!(await mayWrite(svc.db, caller, entry.model))) {
      reply.code(403);
      return { [String(entry.id ?? null)]: `User lacks permission to create ${entry.model}` };
    }
  }
  return undefined;
}

/** the upload's file text and context, or a 400 naming the field */
async function readUpload(form: unknown): Promise<{ text?: string; context: Record<string, unknown> }> {
  if (!(form instanceof FormData)) return { context: {} };
  const file = form.get('file');
  const path = form.get('path');
  if (typeof path === 'string' && path !== '') throw ValidationError.field('path', 'Blueprint file does not exist');
  let context: Record<string, unknown> = {};
  const raw = form.get('context');
  if (typeof raw === 'string' && raw.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw ValidationError.field('context', 'Value must be valid JSON.');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
      throw ValidationError.field('context', 'Value must be a JSON object.');
    context = parsed as Record<string, unknown>;
  }
  if (file === null) return { context };
  const text = typeof file === 'string' ? file : await file.text();
  return { text, context };
}

/** audit events for what an applied import wrote, after its commit */
export async function auditImport(req: FastifyRequest, result: ImportResult) {
  for (const w of result.written) await w.model.audit(req, w.action, w.key, w.object);
}

export function mountBlueprintImport(router: ApiRouter, svc: Services) {
  router.component('BlueprintUploadRequest', {
    type: 'object',
    description: 'Serializer to upload file',
    properties: { file: { type: 'string', format: 'binary' }, path: { type: 'string', minLength: 1 }, context: { type: 'string' } },
  });
  router.component('BlueprintImportResult', {
    type: 'object',
    description: 'Logs of an attempted blueprint import',
    properties: {
      logs: { type: 'array', items: { $ref: '#/components/schemas/LogEvent' }, readOnly: true },
      success: { type: 'boolean', readOnly: true },
    },
    required: ['logs', 'success'],
  });
  router.app.register(async (scope) => {
    acceptMultipart(scope, UPLOAD_LIMIT);
    router.within(scope).route('/managed/blueprints/import', {
      post: {
        doc: {
          operationId: 'managed_blueprints_import_create',
          tag: 'managed',
          body: 'BlueprintUploadRequest',
          bodyType: 'multipart/form-data',
          response: 'BlueprintImportResult',
        },
        handler: async (req, reply) => {
          const caller = requireCaller(req);
          if (!caller.superuser && !(await hasGlobal(svc.db, caller, 'authentik_blueprints.add_blueprintinstance')))
            throw Forbidden.permission();
          const { text, context } = await readUpload(req.body);
          if (text === undefined) return reply.code(400).send({ logs: [], success: false });
          let blueprint: Blueprint;
          try {
            blueprint = await parseBlueprint(text);
          } catch (e) {
            if (!(e instanceof BlueprintInvalid)) throw e;
            return {
              logs: [
                {
                  timestamp: new Date().toISOString(),
                  log_level: 'warning',
                  logger: 'authentik.blueprints.v1.importer',
                  event: `Invalid blueprint: ${e.message}`,
                  attributes: {},
                },
              ],
              success: false,
            };
          }
          const denied = await checkBlueprintPermissions(svc, req, blueprint, reply);
          if (denied) return denied;
          const result = await applyBlueprint(router.models, svc.db, blueprint, {
            caller,
            req,
            context,
            findInstance: findInstance(svc),
            metaModels: metaModels(svc),
          });
          await auditImport(req, result);
          return { logs: result.logs, success: result.success };
        },
      },
    });
  });
}
