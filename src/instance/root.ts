/** /root/config/ and /admin/version/. */
import type { ApiRouter } from '../rest/routes.js';
import { requireCaller } from '../rest/auth.js';
import { VERSION } from '../version.js';
import type { Services } from '../services.js';
import { systemSettings } from './system-settings/store.js';

/**
 * authentik's capabilities: `can_geo_ip` / `can_asn` while a GeoIP / ASN database is loaded (src/geoip/), and
 * `can_impersonate` while the system settings allow impersonation
 */
async function capabilities(svc: Services): Promise<string[]> {
  const caps: string[] = [];
  if (svc.geoip.canGeoIp) caps.push('can_geo_ip');
  if (svc.geoip.canAsn) caps.push('can_asn');
  if ((await systemSettings(svc.db)).impersonation) caps.push('can_impersonate');
  return caps;
}

export function mountRoot(router: ApiRouter, svc: Services) {
  router.route('/root/config', {
    get: {
      doc: { operationId: 'root_config_retrieve', tag: 'root', response: 'Config' },
      handler: async () => ({
        error_reporting: { enabled: false, sentry_dsn: '', environment: 'customer', send_pii: false, traces_sample_rate: 0 },
        capabilities: await capabilities(svc),
        cache_timeout: 300,
        cache_timeout_flows: 300,
        cache_timeout_policies: 300,
      }),
    },
  });
  router.route('/admin/version', {
    get: {
      doc: { operationId: 'admin_version_retrieve', tag: 'admin', response: 'Version' },
      handler: async (req) => {
        requireCaller(req);
        return {
          version_current: VERSION,
          version_latest: VERSION,
          version_latest_valid: true,
          build_hash: '',
          outdated: false,
          outpost_outdated: false,
        };
      },
    },
  });
}
