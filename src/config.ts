/**
 * Every environment variable Keystage reads, parsed once. Documented in README.md ("Configuration").
 * authentik's AUTHENTIK_* names are accepted as fallbacks where authentik has an equivalent.
 */
import os from 'node:os';

export interface Argon2Params {
  memoryCost: number; // KiB
  timeCost: number;
  parallelism: number;
  /** argon2id computations running at once (more wait their turn); default: the CPUs this process may use */
  concurrency: number;
}

export interface Config {
  port: number;
  host: string;
  /** postgres://… or undefined for the embedded SQLite database */
  databaseUrl: string | undefined;
  /** SQLite file path (ignored with PostgreSQL) */
  sqlitePath: string;
  /** how much of the SQLite file is read through a memory map (MiB; 0: through SQLite's page cache) */
  sqliteMmapMiB: number;
  secretKey: string | undefined;
  /** earlier secret keys: stored secrets encrypted under them are re-encrypted under `secretKey` at start */
  secretKeyPrevious: string[];
  bootstrapPassword: string | undefined;
  bootstrapToken: string | undefined;
  bootstrapEmail: string | undefined;
  logLevel: string;
  /** request bodies larger than this are refused (bytes) */
  bodyLimit: number;
  argon2: Argon2Params;
  /** seconds the captcha provider may take before the stage fails closed */
  captchaTimeoutMs: number;
  /** proxies whose X-Forwarded-* headers are trusted (fastify trustProxy syntax) */
  trustedProxies: string | undefined;
  pgPoolSize: number;
  lockout: LockoutConfig;
  /** how long audit events are kept (ms) */
  eventRetentionMs: number;
  /** authentik's `impersonation` and `impersonation_require_reason` settings */
  impersonation: { enabled: boolean; requireReason: boolean };
  /** RSA key size of the self-signed certificate made at first start (authentik: 4096) */
  selfSignedKeyBits: number;
  /** the folder blueprint files are read from (authentik's `blueprints_dir`; src/blueprints/files.ts) */
  blueprintsDir: string;
  /** HTTPS port serving brands' web certificates and asking for client certificates (src/instance/tls/; 0 = off) */
  tlsPort: number;
  /** Prometheus metrics port (0 = off) */
  metricsPort: number;
  /** listen address of the metrics port (unauthenticated: loopback unless set) */
  metricsHost: string;
  /** a request (headers and body) must have arrived within this long (ms; 0 = no limit) */
  requestTimeoutMs: number;
  /** a request's headers must have arrived within this long (ms; at most requestTimeoutMs) */
  headersTimeoutMs: number;
  /** after SIGTERM/SIGINT, in-flight requests get this long (ms) before the process exits anyway */
  shutdownGraceMs: number;
  /** a quiet server gives its heap's slack back after this long without a request (src/instance/idle-gc.ts); 0: never */
  idleGcMs: number;
  /** sessions end after this long without a request (ms; 0 = no idle limit) */
  sessionIdleMs: number;
  /** no session lives longer than this (ms) */
  sessionMaxAgeMs: number;
  /** a session nobody logged in to (flow state only) ends this long after it was first stored (ms) */
  sessionAnonymousMs: number;
  /** PostgreSQL: a flow request's renewed hold on its session; a node that dies holding one frees it after this (ms) */
  sessionLeaseMs: number;
  /** SMTP settings used by e-mail stages with use_global_settings */
  email: {
    host: string;
    port: number;
    username: string;
    password: string;
    useTls: boolean;
    useSsl: boolean;
    from: string;
    timeoutS: number;
  };
  /** Twilio's REST API base URL (changed only to point tests at a local fake) */
  twilioApiUrl: string;
  /** whether the brand created at first start is the default brand (authentik's AUTHENTIK_DEFAULT_BRAND_ENABLED) */
  defaultBrandEnabled: boolean;
  /**
   * whether people may change their own name, e-mail and username in the user settings flow when no group or user
   * attribute `goauthentik.io/user/can-change-*` says otherwise (authentik's AUTHENTIK_DEFAULT_USER_CHANGE_*)
   */
  defaultUserChange: { name: boolean; email: boolean; username: boolean };
  /** how many e-mail/SMS codes may be sent, per scope, within `windowMs` (0 = that scope is unlimited) */
  mfaSend: MfaSendConfig;
  /** data exports one person may have asked for and not yet received (0 = no limit) */
  exportsUnfinished: number;
  /** the URL people reach Keystage at (WebAuthn relying-party ID and origin); undefined = the request's host */
  externalUrl: URL | undefined;
  /** Have I Been Pwned's Pwned Passwords API base URL (password policies' range queries; changed only for tests or a mirror) */
  hibpUrl: string;
  /** plex.tv's API, asked by Plex sources */
  plexUrl: string;
  reputation: ReputationConfig;
  /**
   * MaxMind databases (authentik's AUTHENTIK_EVENTS__CONTEXT_PROCESSORS__GEOIP and __ASN; src/geoip/): GeoLite2-City
   * and GeoLite2-ASN or their commercial equivalents. `''` turns one off; `*Default` says the path was not configured
   * (a missing default file is not worth a warning)
   */
  geoip: { cityPath: string; asnPath: string; cityDefault: boolean; asnDefault: boolean };
}

/** reputation scores (authentik's reputation limits and AUTHENTIK_REPUTATION__EXPIRY) */
export interface ReputationConfig {
  /** a score never goes below this (zero or negative) */
  lowerLimit: number;
  /** a score never goes above this (zero or positive) */
  upperLimit: number;
  /** a score is forgotten this long after it was first recorded (seconds) */
  expirySeconds: number;
}

export interface MfaSendConfig {
  /** codes sent to one device */
  device: number;
  /** codes sent in one login attempt (flow execution) */
  attempt: number;
  /** codes requested from one client IP */
  ip: number;
  /** codes sent for one identifier (all of its devices) */
  account: number;
  windowMs: number;
}

export interface LockoutConfig {
  /** failures of one identifier from one IP within 15 minutes before that pair is refused */
  accountIpLimit: number;
  /** failures of one identifier (all IPs) within an hour before unknown IPs are refused (ASVS 2.2.1: ≤ 100) */
  accountLimit: number;
  /** failures from one IP (all identifiers) within an hour before that IP is refused */
  ipLimit: number;
  /** failures of an identifier/IP pair after which answers are slowed down */
  slowAfter: number;
}

type Env = Record<string, string | undefined>;

function pick(env: Env, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = env[n];
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

/** the first of `names` set, even to '' (which turns the database off, as authentik's empty path), else `fallback` */
function pathOrOff(env: Env, fallback: string, ...names: string[]): { path: string; isDefault: boolean } {
  for (const n of names) if (env[n] !== undefined) return { path: env[n]!, isDefault: false };
  return { path: fallback, isDefault: true };
}

/** authentik's defaults: the files its GeoIP update container writes to /geoip */
function geoipPaths(env: Env): Config['geoip'] {
  const city = pathOrOff(env, '/geoip/GeoLite2-City.mmdb', 'KEYSTAGE_GEOIP_PATH', 'AUTHENTIK_EVENTS__CONTEXT_PROCESSORS__GEOIP');
  const asn = pathOrOff(env, '/geoip/GeoLite2-ASN.mmdb', 'KEYSTAGE_ASN_PATH', 'AUTHENTIK_EVENTS__CONTEXT_PROCESSORS__ASN');
  return { cityPath: city.path, asnPath: asn.path, cityDefault: city.isDefault, asnDefault: asn.isDefault };
}

function int(env: Env, fallback: number, ...names: string[]): number {
  const raw = pick(env, ...names);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${names[0]} must be a non-negative integer, got "${raw}"`);
  return n;
}

/** true/false (authentik's config also reads yes/no, on/off, 1/0) */
function bool(env: Env, fallback: boolean, ...names: string[]): boolean {
  const raw = pick(env, ...names);
  if (raw === undefined) return fallback;
  const v = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  throw new Error(`${names[0]} must be true or false, got "${raw}"`);
}

/** an integer of either sign, within `[min, max]` */
function signedInt(env: Env, fallback: number, min: number, max: number, ...names: string[]): number {
  const raw = pick(env, ...names);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${names[0]} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

function baseUrl(name: string, raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`${name} must be an absolute URL, got "${raw}"`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`${name} must be an http(s) URL, got "${raw}"`);
  return raw.replace(/\/+$/, '');
}

function externalUrl(raw: string | undefined): URL | undefined {
  if (raw === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`KEYSTAGE_EXTERNAL_URL must be an absolute URL, got "${raw}"`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`KEYSTAGE_EXTERNAL_URL must be an http(s) URL, got "${raw}"`);
  return u;
}

export function loadConfig(env: Env = process.env, overrides: Partial<Config> = {}): Config {
  const cfg: Config = {
    port: int(env, 9000, 'KEYSTAGE_PORT'),
    host: pick(env, 'KEYSTAGE_HOST') ?? '0.0.0.0',
    databaseUrl: pick(env, 'KEYSTAGE_DATABASE_URL'),
    sqlitePath: pick(env, 'KEYSTAGE_SQLITE_PATH') ?? './data/keystage.sqlite3',
    sqliteMmapMiB: int(env, 256, 'KEYSTAGE_SQLITE_MMAP_MIB'),
    secretKey: pick(env, 'KEYSTAGE_SECRET_KEY', 'AUTHENTIK_SECRET_KEY'),
    secretKeyPrevious: (pick(env, 'KEYSTAGE_SECRET_KEY_PREVIOUS') ?? '').split(',').filter((k) => k !== ''),
    bootstrapPassword: pick(env, 'KEYSTAGE_BOOTSTRAP_PASSWORD', 'AUTHENTIK_BOOTSTRAP_PASSWORD'),
    bootstrapToken: pick(env, 'KEYSTAGE_BOOTSTRAP_TOKEN', 'AUTHENTIK_BOOTSTRAP_TOKEN'),
    bootstrapEmail: pick(env, 'KEYSTAGE_BOOTSTRAP_EMAIL', 'AUTHENTIK_BOOTSTRAP_EMAIL'),
    logLevel: pick(env, 'KEYSTAGE_LOG_LEVEL') ?? 'info',
    bodyLimit: int(env, 1024 * 1024, 'KEYSTAGE_BODY_LIMIT'),
    argon2: {
      memoryCost: int(env, 19456, 'KEYSTAGE_ARGON2_MEMORY_KIB'),
      timeCost: int(env, 2, 'KEYSTAGE_ARGON2_ITERATIONS'),
      parallelism: int(env, 1, 'KEYSTAGE_ARGON2_PARALLELISM'),
      concurrency: Math.max(1, int(env, os.availableParallelism(), 'KEYSTAGE_ARGON2_CONCURRENCY')),
    },
    captchaTimeoutMs: int(env, 5000, 'KEYSTAGE_CAPTCHA_TIMEOUT_MS'),
    trustedProxies: pick(env, 'KEYSTAGE_TRUSTED_PROXIES'),
    pgPoolSize: int(env, 10, 'KEYSTAGE_PG_POOL_SIZE'),
    lockout: {
      accountIpLimit: int(env, 10, 'KEYSTAGE_LOCKOUT_ACCOUNT_IP_LIMIT'),
      accountLimit: int(env, 100, 'KEYSTAGE_LOCKOUT_ACCOUNT_LIMIT'),
      ipLimit: int(env, 300, 'KEYSTAGE_LOCKOUT_IP_LIMIT'),
      slowAfter: int(env, 3, 'KEYSTAGE_LOCKOUT_SLOW_AFTER'),
    },
    eventRetentionMs: int(env, 365, 'KEYSTAGE_EVENT_RETENTION_DAYS') * 86_400_000,
    impersonation: {
      enabled: bool(env, true, 'KEYSTAGE_IMPERSONATION'),
      requireReason: bool(env, true, 'KEYSTAGE_IMPERSONATION_REQUIRE_REASON'),
    },
    selfSignedKeyBits: Math.max(2048, int(env, 4096, 'KEYSTAGE_SELF_SIGNED_KEY_BITS')),
    tlsPort: int(env, 0, 'KEYSTAGE_TLS_PORT'),
    blueprintsDir: pick(env, 'KEYSTAGE_BLUEPRINTS_DIR', 'AUTHENTIK_BLUEPRINTS_DIR') ?? './blueprints',
    metricsPort: int(env, 9300, 'KEYSTAGE_METRICS_PORT'),
    metricsHost: pick(env, 'KEYSTAGE_METRICS_HOST') ?? '127.0.0.1',
    requestTimeoutMs: int(env, 30_000, 'KEYSTAGE_REQUEST_TIMEOUT_MS'),
    headersTimeoutMs: int(env, 10_000, 'KEYSTAGE_HEADERS_TIMEOUT_MS'),
    shutdownGraceMs: int(env, 25_000, 'KEYSTAGE_SHUTDOWN_GRACE_MS'),
    idleGcMs: int(env, 10, 'KEYSTAGE_IDLE_GC_SECONDS') * 1000,
    sessionIdleMs: int(env, 0, 'KEYSTAGE_SESSION_IDLE_MINUTES') * 60_000,
    sessionMaxAgeMs: int(env, 24 * 30, 'KEYSTAGE_SESSION_MAX_AGE_HOURS') * 3_600_000,
    sessionAnonymousMs: Math.max(1, int(env, 30, 'KEYSTAGE_SESSION_ANONYMOUS_MINUTES')) * 60_000,
    sessionLeaseMs: Math.max(300, int(env, 8_000, 'KEYSTAGE_SESSION_LEASE_MS')),
    email: {
      host: pick(env, 'KEYSTAGE_EMAIL_HOST', 'AUTHENTIK_EMAIL__HOST') ?? 'localhost',
      port: int(env, 25, 'KEYSTAGE_EMAIL_PORT', 'AUTHENTIK_EMAIL__PORT'),
      username: pick(env, 'KEYSTAGE_EMAIL_USERNAME', 'AUTHENTIK_EMAIL__USERNAME') ?? '',
      password: pick(env, 'KEYSTAGE_EMAIL_PASSWORD', 'AUTHENTIK_EMAIL__PASSWORD') ?? '',
      useTls: (pick(env, 'KEYSTAGE_EMAIL_USE_TLS', 'AUTHENTIK_EMAIL__USE_TLS') ?? 'false') === 'true',
      useSsl: (pick(env, 'KEYSTAGE_EMAIL_USE_SSL', 'AUTHENTIK_EMAIL__USE_SSL') ?? 'false') === 'true',
      from: pick(env, 'KEYSTAGE_EMAIL_FROM', 'AUTHENTIK_EMAIL__FROM') ?? 'keystage@localhost',
      timeoutS: int(env, 10, 'KEYSTAGE_EMAIL_TIMEOUT', 'AUTHENTIK_EMAIL__TIMEOUT'),
    },
    twilioApiUrl: pick(env, 'KEYSTAGE_TWILIO_API_URL') ?? 'https://api.twilio.com',
    defaultBrandEnabled: bool(env, true, 'KEYSTAGE_DEFAULT_BRAND_ENABLED', 'AUTHENTIK_DEFAULT_BRAND_ENABLED'),
    defaultUserChange: {
      name: bool(env, true, 'KEYSTAGE_DEFAULT_USER_CHANGE_NAME', 'AUTHENTIK_DEFAULT_USER_CHANGE_NAME'),
      email: bool(env, true, 'KEYSTAGE_DEFAULT_USER_CHANGE_EMAIL', 'AUTHENTIK_DEFAULT_USER_CHANGE_EMAIL'),
      username: bool(env, true, 'KEYSTAGE_DEFAULT_USER_CHANGE_USERNAME', 'AUTHENTIK_DEFAULT_USER_CHANGE_USERNAME'),
    },
    exportsUnfinished: int(env, 3, 'KEYSTAGE_EXPORTS_UNFINISHED_LIMIT'),
    mfaSend: {
      device: int(env, 5, 'KEYSTAGE_MFA_SEND_LIMIT_DEVICE'),
      attempt: int(env, 5, 'KEYSTAGE_MFA_SEND_LIMIT_ATTEMPT'),
      ip: int(env, 30, 'KEYSTAGE_MFA_SEND_LIMIT_IP'),
      account: int(env, 10, 'KEYSTAGE_MFA_SEND_LIMIT_ACCOUNT'),
      windowMs: Math.max(1, int(env, 60, 'KEYSTAGE_MFA_SEND_WINDOW_MINUTES')) * 60_000,
    },
    externalUrl: externalUrl(pick(env, 'KEYSTAGE_EXTERNAL_URL')),
    hibpUrl: baseUrl('KEYSTAGE_HIBP_URL', pick(env, 'KEYSTAGE_HIBP_URL') ?? 'https://api.pwnedpasswords.com'),
    plexUrl: baseUrl('KEYSTAGE_PLEX_URL', pick(env, 'KEYSTAGE_PLEX_URL') ?? 'https://plex.tv'),
    geoip: geoipPaths(env),
    reputation: {
      lowerLimit: signedInt(env, -5, -2147483648, 0, 'KEYSTAGE_REPUTATION_LOWER_LIMIT'),
      upperLimit: signedInt(env, 5, 0, 2147483647, 'KEYSTAGE_REPUTATION_UPPER_LIMIT'),
      expirySeconds: int(env, 86400, 'KEYSTAGE_REPUTATION_EXPIRY', 'AUTHENTIK_REPUTATION__EXPIRY'),
    },
  };
  return { ...cfg, ...overrides };
}
