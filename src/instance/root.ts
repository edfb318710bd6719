/** /root/config/ and /admin/version/. */
import type { ApiRouter } from '../rest/routes.js';
import { requireCaller } from '../rest/auth.js';
import { VERSION } from '../version.js';

export function mountRoot(router: ApiRouter) {
  router.route('/root/config', {
    get: {
      doc: { operationId: 'root_config_retrieve', tag: 'root', response: 'Config' },
      handler: async () => ({
        error_reporting: { enabled: false, sentry_dsn: '', environment: 'customer', send_pii: false, traces_sample_rate: 0 },
        capabilities: [],
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
