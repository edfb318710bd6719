/** Builds the application from configuration. Nothing here listens; main.ts (or a test) does. */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import type { Config } from './config.js';
import { openStore, type Store } from './db/index.js';
import { migrate } from './db/migrate.js';
import { clientErrorHandler, frameworkErrors, installErrorHandling, ValidationError } from './rest/errors.js';
import { parseJsonBody } from './rest/json-body.js';
import { nullCharacterErrors } from './rest/validate.js';
import { installHttpHeaders } from './rest/http.js';
import { ApiRouter, routeFlags } from './rest/routes.js';
import { acceptBearer, checkCsrf, identify } from './rest/auth.js';
import { mountSchema } from './rest/openapi.js';
import { registerSharedComponents } from './rest/components.js';
import { mountRoot } from './instance/root.js';
import { mountSystem } from './instance/system.js';
import { mountSystemSettings } from './instance/system-settings/routes.js';
import { mountFiles } from './files/routes.js';
import { mountLifecycle } from './lifecycle/index.js';
import { mountObjectAttributes } from './attributes/resource.js';
import { durationMs, seedSystemSettings, systemSettings } from './instance/system-settings/store.js';
import { mountFlows } from './flows/rest/instances.js';
import { mountBlueprintImport } from './blueprints/routes.js';
import type { WritableModel } from './rest/resource.js';
import { mountBlueprintInstances } from './blueprints/instances.js';
import { mountTransactionalApplications } from './blueprints/transactional.js';
import { type BlueprintDiscovery, startBlueprintDiscovery } from './blueprints/discovery.js';
import { mountBindings } from './flows/rest/bindings.js';
import { mountStages } from './stages/api.js';
import { loadStageConfig } from './stages/resource.js';
import {
  stageColumnReferences,
  stageM2mReferences,
  stageJsonListReferences,
  stageMigrations,
  stageSecretColumns,
  stageTypeByKind,
  stageChallenges,
} from './stages/registry.js';
import { mountUsers } from './users/routes.js';
import { mountRecoveryLink } from './flows/recovery.js';
import { mountUserSwitch } from './flows/user-switch.js';
import { mountGroups } from './groups/routes.js';
import { mountRbac } from './rbac/routes.js';
import { eventUserOf } from './users/impersonation.js';
import { mountNotifications } from './events/notifications/routes.js';
import { syncPermissions } from './rbac/catalogue.js';
import { mountBrands } from './brands/routes.js';
import { brandFileReferences, brandKeyPairReferences } from './brands/resource.js';
import { brandForHost, eventBrand } from './brands/match.js';
import { ensureDefaultBrand } from './brands/store.js';
import { userById } from './users/by-id.js';
import { mountTokens } from './tokens/tokens.js';
import { mountDevices } from './mfa/devices-api/index.js';
import { deviceClassMigrations, deviceClassSecretColumns } from './mfa/registry.js';
import { pino } from 'pino';
import { bootstrap } from './instance/bootstrap.js';
import { loadInstanceSettings } from './instance/settings.js';
import { attachSecrets, sealStoredSecrets, Secrets } from './instance/secrets.js';
import { coreSecretColumns } from './instance/secret-columns.js';
import { Sessions } from './sessions/sessions.js';
import { mountExecutor } from './flows/engine/executor.js';
import { engineStageByKind } from './flows/engine/plan-redirect.js';
import { mountRequests, requestStageByKind } from './requests/index.js';
import { stopExpressions } from './expressions/index.js';
import { PolicyEngine } from './policies/engine/engine.js';
import { policyMigrations, policyTypeByKind } from './policies/registry.js';
import { mountPolicies } from './policies/routes.js';
import {
  providerJsonListReferences,
  providerKeyPairReferences,
  providerMigrations,
  providerStart,
  providerBearerLookups,
  providerSecretColumns,
  providerStageByKind,
  providerStageChallenges,
} from './providers/registry.js';
import { mountProviders } from './providers/routes.js';
import { sourceFileReferences } from './sources/resource.js';
import { mountSourceRoutes, mountSources, sourceSecretColumns, sourceTypesKeyPairReferences } from './sources/all.js';
import { mountSourceConnections } from './sources/connections.js';
import { sourceStageByKind, sourceStageChallenges } from './sources/post-source-stage.js';
import { applicationFileReferences, mountApplications } from './applications/resource.js';
import { flowFileReferences } from './flows/background.js';
import { mountApplicationEntitlements } from './applications/entitlements.js';
import { mountApplicationLaunch } from './applications/launch-route.js';
import { mountUserConsents } from './applications/consents.js';
import { mountAuthenticatedSessions } from './sessions/resource.js';
import { mountPropertyMappings } from './propertymappings/resource.js';
import { ensureManagedLdapMappings, ensureManagedScopeMappings } from './propertymappings/managed.js';
import { type LdapScheduler, startLdapScheduler } from './sources/ldap/scheduler.js';
import { ensureDefaultFlows } from './flows/defaults.js';
import { mountFlowUrls } from './flows/browser/urls.js';
import { mountUi } from './ui/routes.js';
import type { Services } from './flows/engine/runtime.js';
import { GeoIP } from './geoip/databases.js';
import { Events } from './events/events.js';
import { Signals } from './events/signals.js';
import { mountEvents } from './events/resource.js';
import { Lockout } from './auth/lockout.js';
import { Metrics } from './instance/metrics.js';
import { observeHashing } from './auth/passwords.js';
import { mountTasks, startTasks } from './tasks/index.js';
import { mountCrypto } from './crypto/resource.js';
import { backfillCertificateDetails, ensureSelfSignedCertificate } from './crypto/defaults.js';
import { mountAdminCatalogue, recordVersion } from './instance/admin-catalogue.js';
import { mountReports } from './reports/routes.js';
import { startExportSweeper } from './reports/generate.js';
import { userExporter } from './users/export.js';
import { eventExporter } from './events/export.js';

export interface App {
  app: FastifyInstance;
  /** GET /metrics, to be served on config.metricsPort */
  metricsApp: FastifyInstance;
  services: Services;
  store: Store;
  config: Config;
  /** the models blueprints write, by authentik's label, with the REST resource of each (rest/resource.ts) */
  models: ReadonlyMap<string, WritableModel>;
  /** the blueprints folder's discovery (src/blueprints/discovery.ts) */
  blueprints: BlueprintDiscovery;
  close(): Promise<void>;
}

export interface BuildOptions {
  /** where the log lines go instead of stdout (tests read them) */
  logStream?: { write(line: string): void };
  /** how often expired sessions are deleted (default every minute; tests shorten it) */
  sessionSweepMs?: number;
  /** how often the blueprints folder is looked at besides its file events (default hourly) */
  blueprintDiscoveryMs?: number;
  /** how often the node's task scheduler looks for due schedules and queued tasks (default 10 s; tests shorten it) */
  taskTickMs?: number;
  /** how often every node looks for data exports nobody is making (default a minute) */
  exportSweepMs?: number;
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<App> {
  const store = await openStore({
    databaseUrl: config.databaseUrl,
    sqlitePath: config.sqlitePath,
    sqliteMmapMiB: config.sqliteMmapMiB,
    poolSize: config.pgPoolSize,
    warn: (message) => process.emitWarning(message, 'KeystageWarning'),
  });
  await migrate(store, { ...stageMigrations(), ...deviceClassMigrations(), ...policyMigrations(), ...providerMigrations() });
  const settings = await loadInstanceSettings(store.db, config.secretKey);
  // secrets at rest (core/secrets.ts): values still in clear, or under a previous key, are encrypted now
  const secrets = new Secrets(settings.secretKey, [...config.secretKeyPrevious, ...(settings.generatedKey ? [settings.generatedKey] : [])]);
  attachSecrets(store.db, secrets);
  await sealStoredSecrets(store.db, secrets, [
    ...coreSecretColumns,
    ...deviceClassSecretColumns(),
    ...stageSecretColumns(),
    ...providerSecretColumns(),
    ...sourceSecretColumns(),
  ]);
  // bootstrap logs before the app's logger exists: to the same place
  const level = { level: config.logLevel };
  const startLog = options.logStream ? pino(level, options.logStream as pino.DestinationStream) : pino(level);
  await bootstrap(store.db, config, startLog);
  await ensureDefaultFlows(store.db);
  await backfillCertificateDetails(store.db);
  await ensureSelfSignedCertificate(store.db, config.selfSignedKeyBits);
  await recordVersion(store.db);
  await ensureManagedScopeMappings(store.db);
  await ensureManagedLdapMappings(store.db);
  await providerStart(store.db);
  for (const lookup of providerBearerLookups()) acceptBearer(lookup);
  await ensureDefaultBrand(store.db, config.defaultBrandEnabled);
  await seedSystemSettings(store.db, config);
  const geoip = new GeoIP(
    {
      cityPath: config.geoip.cityPath,
      asnPath: config.geoip.asnPath,
      defaults: { city: config.geoip.cityDefault, asn: config.geoip.asnDefault },
    },
    startLog,
  );
  const events = new Events(
    store.db,
    config.eventRetentionMs,
    async () => durationMs((await systemSettings(store.db)).event_retention, config.eventRetentionMs),
    (ip) => geoip.eventContext(ip),
    async (host, db) => eventBrand(await brandForHost(db, host)),
  );
  const sessions = new Sessions(
    store.db,
    {
      idleMs: config.sessionIdleMs,
      maxAgeMs: config.sessionMaxAgeMs,
      anonymousMs: config.sessionAnonymousMs,
      leaseMs: config.sessionLeaseMs,
    },
    async (userId, req, why) => {
      const user = await userById(store.db, userId);
      // authentik's logout_extra: the logout event carries why the binding broke
      await events.emit('logout', {
        ...(user ? { user: { pk: user.id, username: user.username, email: user.email } } : {}),
        req,
        context: { ...why },
      });
    },
    store.adminCache.readsEpoch ? store.adminCache : undefined,
    store.dialect === 'postgres',
    geoip,
  );
  const metrics = new Metrics(store);
  observeHashing((op, seconds) => metrics.hashSeconds.observe({ op }, seconds));
  const services: Services = {
    // the engine reaches the services (policy types receive them) once they exist
    policies: new PolicyEngine(() => services, policyTypeByKind),
    db: store.db,
    dialect: store.dialect,
    config,
    secretKey: settings.secretKey,
    installId: settings.installId,
    sessions,
    events,
    signals: new Signals((err) => startLog.warn({ err }, 'a credential-change listener or password check failed')),
    geoip,
    lockout: new Lockout(store.db, config.lockout, store.dialect === 'postgres'),
    metrics,
    brand: (host, db) => brandForHost(db ?? store.db, host),
    stageType: (kind) =>
      stageTypeByKind(kind) ?? providerStageByKind(kind) ?? sourceStageByKind(kind) ?? requestStageByKind(kind) ?? engineStageByKind(kind),
    stageConfig: async (kind, stageUuid) => {
      const inMemory = providerStageByKind(kind) ?? sourceStageByKind(kind) ?? requestStageByKind(kind) ?? engineStageByKind(kind);
      if (inMemory) return { name: inMemory.verboseName } as never;
      const def = stageTypeByKind(kind);
      return def ? loadStageConfig(store.db, def, stageUuid) : undefined;
    },
  };

  const app = Fastify({
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel, ...(options.logStream ? { stream: options.logStream } : {}) },
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    // deadlines for receiving a request: headers within headersTimeoutMs, headers and body within requestTimeoutMs
    // (a client trickling its body is answered 408 and disconnected); Node checks them every connectionsCheckingInterval
    requestTimeout: config.requestTimeoutMs,
    http: {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: config.requestTimeoutMs > 0 ? Math.min(config.headersTimeoutMs, config.requestTimeoutMs) : config.headersTimeoutMs,
      connectionsCheckingInterval: Math.max(
        50,
        Math.min(1000, Math.floor(Math.min(...[config.requestTimeoutMs, config.headersTimeoutMs].filter((t) => t > 0), 4000) / 4)),
      ),
    },
    clientErrorHandler,
    frameworkErrors,
    trustProxy: config.trustedProxies ?? false,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 512 },
    // authentik's published API docs write paths as `/api/v3//stages/…`; collapse repeated slashes in the path
    rewriteUrl: (req) => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q < 0 ? url : url.slice(0, q);
      return path.includes('//') ? path.replace(/\/{2,}/g, '/') + (q < 0 ? '' : url.slice(q)) : url;
    },
  });
  await app.register(cookie, { secret: settings.secretKey });

  // one structured line per request; bodies and query strings are never logged
  app.addHook('onResponse', async (req, reply) => {
    metrics.requestDuration.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    req.log.info(
      { method: req.method, path: req.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });

  // kept admin data (src/db/admin-cache.ts): with PostgreSQL each request first reads the configuration epoch, so
  // another node's change applies here at once (the executor reads it with the session); an admin write (any
  // method but GET/HEAD/OPTIONS, outside the flow executor) forgets what this node kept
  const cache = store.adminCache;
  if (cache.readsEpoch)
    app.addHook('onRequest', async (req) => {
      const url = req.url;
      if (!url.startsWith('/static/') && !url.startsWith('/-/health/') && !routeFlags(req).ownSession) await cache.refresh();
    });
  app.addHook('onSend', (req, _reply, payload, done) => {
    const flags = routeFlags(req);
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS' && !flags.ownSession && !flags.noConfigWrites)
      cache.invalidate();
    done(null, payload);
  });

  app.removeAllContentTypeParsers();
  // application/json and +json types, with or without parameters (`; charset=utf-8`), as DRF's JSONParser
  app.addContentTypeParser(/^application\/([\w.+-]*\+)?json(\s*;.*)?$/, { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(String(body)));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  installErrorHandling(app);
  installHttpHeaders(app);

  app.addHook('preHandler', async (req) => {
    // (the flow executor resolves its caller itself: flows/engine/executor.ts)
    if (!req.url.startsWith('/api/v3/') || routeFlags(req).ownSession) return;
    req.caller = await identify(store.db, req, (r) => sessions.user(r));
    checkCsrf(req, req.caller);
    const nul = nullCharacterErrors(req.query as Record<string, unknown>);
    if (nul) throw new ValidationError(nul);
  });

  app.get('/-/health/live/', async (_req, reply) => reply.code(200).send());
  app.get('/-/health/ready/', async (_req, reply) => reply.code((await store.ping()) ? 200 : 503).send());

  const router = new ApiRouter(app);
  router.audit = async (req, action, context) => {
    await events.emit(action, {
      user: eventUserOf(req.caller),
      req,
      context,
    });
  };
  registerSharedComponents(router);
  mountRoot(router, services);
  mountAdminCatalogue(router, store.db);
  mountSystem(router, services);
  mountSystemSettings(router, services);
  mountLifecycle(router, services);
  mountObjectAttributes(router, services);
  mountFiles(router, app, services, {
    references: () => [...applicationFileReferences(), ...sourceFileReferences(), ...flowFileReferences(), ...brandFileReferences()],
  });
  mountSchema(router);
  mountFlows(router, services);
  mountBlueprintImport(router, services);
  mountBlueprintInstances(router, services);
  mountBindings(router, services);
  mountPolicies(router, services);
  mountProviders(router, services);
  mountApplications(router, services);
  mountRequests(router, services);
  mountTasks(router, services);
  mountTransactionalApplications(router, services);
  mountApplicationEntitlements(router, services);
  mountUserConsents(router, services);
  mountAuthenticatedSessions(router, services);
  mountPropertyMappings(router, services, { references: () => stageColumnReferences('property_mappings') });
  mountStages(router, services);
  mountUsers(router, services);
  mountRecoveryLink(router, services);
  mountUserSwitch(router, services);
  mountGroups(router, services);
  const rbac = mountRbac(router, store.db);
  mountBrands(router, services);
  // (an LDAP source saved asks the scheduler, started once the app is ready, for a sync at once, and the task
  // scheduler to give it its schedule; deleted, to take the schedule away)
  let ldapScheduler: LdapScheduler | undefined;
  mountSources(router, services, {
    lists: () => [...stageJsonListReferences('sources'), ...providerJsonListReferences('sources')],
    columns: () => stageColumnReferences('sources'),
    saved: () => {
      ldapScheduler?.kick();
      services.tasks?.kick();
    },
  });
  mountSourceConnections(router, services);
  mountTokens(router, services);
  mountDevices(router, services);
  mountExecutor(router, services, [...stageChallenges(), ...providerStageChallenges(), ...sourceStageChallenges()]);
  mountEvents(router, services);
  mountNotifications(router, services, (err) => app.log.warn({ err }, 'notification dispatch failed'));
  // the lists that can be exported as CSV (src/reports/exporter.ts)
  const exports = mountReports(router, app, services, [userExporter(services.installId), eventExporter]);
  // the columns referencing pairs (an OAuth2 provider's signing_key, …) come from the provider registry
  mountCrypto(router, services, {
    references: () => [
      ...providerKeyPairReferences(),
      ...stageM2mReferences('crypto_certificatekeypairs'),
      ...brandKeyPairReferences(),
      ...sourceTypesKeyPairReferences(),
    ],
  });
  // every resource has registered its model now: the permission catalogue is complete
  rbac.mountAssigned();
  await syncPermissions(store.db);
  mountFlowUrls(app, services);
  mountApplicationLaunch(app, services);
  mountSourceRoutes(app, services);
  mountUi(app, services);

  await app.ready();
  sessions.startSweeper((err) => app.log.warn({ err }, 'expired session sweep failed'), options.sessionSweepMs);
  const stopExports = startExportSweeper(exports, (err) => app.log.warn({ err }, 'data export sweep failed'), options.exportSweepMs);
  ldapScheduler = startLdapScheduler(services, (err) => app.log.warn({ err }, 'LDAP source sync failed'));
  const blueprints = startBlueprintDiscovery(router, services, (err) => app.log.warn({ err }, 'blueprint discovery failed'), {
    ...(options.blueprintDiscoveryMs ? { everyMs: options.blueprintDiscoveryMs } : {}),
    onOutcomes: (files) => app.log.info({ files }, 'blueprint files applied'),
  });
  const taskScheduler = await startTasks(
    { svc: services, blueprints },
    (err) => app.log.warn({ err }, 'task scheduler failed'),
    options.taskTickMs,
  );
  services.tasks = taskScheduler;
  const metricsApp = metrics.server();
  return {
    app,
    metricsApp,
    services,
    store,
    config,
    models: router.models,
    blueprints,
    async close() {
      await taskScheduler.stop();
      await blueprints.stop();
      sessions.stop();
      stopExports();
      await ldapScheduler?.stop();
      await metricsApp.close();
      await app.close();
      // the Python runtime (src/expressions/), if an expression started it: its worker's output streams keep the
      // process alive otherwise
      await stopExpressions();
      await store.close();
    },
  };
}
