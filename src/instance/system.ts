/**
 * `/admin/system/` (authentik's SystemView): what the server sees of the request and what it runs on, for holders of
 * `authentik_rbac.view_system_info` (superusers hold every permission). Credentials in the request's headers are left
 * out. The runtime fields keep authentik's names; `python_version` says which Node.js runs Keystage.
 */
import os from 'node:os';
import crypto from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { ApiRouter } from '../rest/routes.js';
import { requirePermission } from '../rbac/check.js';
import { headersWithoutCredentials } from '../rest/http.js';
import { VERSION } from '../version.js';
import type { Services } from '../services.js';

function fips(): boolean | null {
  try {
    return crypto.getFips() === 1;
  } catch {
    return null;
  }
}

async function systemInfo(svc: Services, req: FastifyRequest) {
  const headers = headersWithoutCredentials(req);
  const brand = await svc.brand(req.host);
  const base = svc.config.externalUrl ? svc.config.externalUrl.href.replace(/\/+$/, '') : `${req.protocol}://${req.host}`;
  return {
    http_headers: headers,
    http_host: req.host,
    http_is_secure: req.protocol === 'https',
    runtime: {
      python_version: `Node.js ${process.versions.node}`,
      environment: process.env.KEYSTAGE_ENVIRONMENT ?? 'custom',
      architecture: os.arch(),
      platform: `${os.platform()}-${os.release()}`,
      uname: `${os.type()} ${os.hostname()} ${os.release()} ${os.version()} ${os.machine()}`,
      openssl_version: `OpenSSL ${process.versions.openssl}`,
      openssl_fips_enabled: fips(),
      authentik_version: VERSION,
    },
    brand: brand.domain,
    server_time: new Date().toISOString(),
    embedded_outpost_disabled: true,
    embedded_outpost_host: '',
    base_url: base,
  };
}

export function mountSystem(router: ApiRouter, svc: Services) {
  const handler = async (req: FastifyRequest) => {
    await requirePermission(svc.db, req, 'authentik_rbac.view_system_info');
    return systemInfo(svc, req);
  };
  router.component('SystemInfo', {
    type: 'object',
    description: 'Get system information.',
    properties: {
      http_headers: { type: 'object', additionalProperties: { type: 'string' }, readOnly: true },
      http_host: { type: 'string', readOnly: true },
      http_is_secure: { type: 'boolean', readOnly: true },
      runtime: {
        type: 'object',
        properties: {
          python_version: { type: 'string' },
          environment: { type: 'string' },
          architecture: { type: 'string' },
          platform: { type: 'string' },
          uname: { type: 'string' },
          openssl_version: { type: 'string' },
          openssl_fips_enabled: { type: 'boolean', nullable: true },
          authentik_version: { type: 'string' },
        },
        required: [
          'architecture',
          'authentik_version',
          'environment',
          'openssl_fips_enabled',
          'openssl_version',
          'platform',
          'python_version',
          'uname',
        ],
        readOnly: true,
      },
      brand: { type: 'string', readOnly: true },
      server_time: { type: 'string', format: 'date-time', readOnly: true },
      embedded_outpost_disabled: { type: 'boolean', readOnly: true },
      embedded_outpost_host: { type: 'string', readOnly: true },
      base_url: { type: 'string', readOnly: true },
    },
    required: [
      'base_url',
      'brand',
      'embedded_outpost_disabled',
      'embedded_outpost_host',
      'http_headers',
      'http_host',
      'http_is_secure',
      'runtime',
      'server_time',
    ],
  });
  router.route('/admin/system', {
    get: { doc: { operationId: 'admin_system_retrieve', tag: 'admin', response: 'SystemInfo' }, handler },
    post: { doc: { operationId: 'admin_system_create', tag: 'admin', response: 'SystemInfo' }, handler },
  });
}
