/**
 * Keystage's TLS listener (KEYSTAGE_TLS_PORT; authentik's `listen.https`, 9443): the same application as the HTTP
 * port, over TLS 1.2 or later, with each brand's web certificate and, where configured, a request for a client
 * certificate (certificates.ts). Requests are handed to Fastify's own handler, so they pass the same hooks, limits and
 * routes; `req.protocol` is `https` on them (Secure cookies, HSTS).
 */
import https from 'node:https';
import type { FastifyInstance } from 'fastify';
import type { DB } from '../../db/index.js';
import { refreshAdminCache } from '../../db/admin-cache.js';
import type { Config } from '../../config.js';
import { buildSelfSigned } from '../../crypto/x509.js';
import { ContextCache, clientAuthorities, webPairFor, type ServedPair } from './certificates.js';

export interface TlsListener {
  server: https.Server;
  /** the port it listens on (the one asked for, or the one the system chose for 0) */
  port: number;
  /** reads the client authorities again now (otherwise every `refreshMs`) */
  refresh(): Promise<void>;
  /** stops accepting connections and resolves once the open ones have ended (idle keep-alive ones are closed now) */
  close(): Promise<void>;
}

const BASE = { minVersion: 'TLSv1.2' } as const;

export async function startTlsListener(
  app: FastifyInstance,
  db: DB,
  config: Pick<Config, 'requestTimeoutMs' | 'headersTimeoutMs' | 'externalUrl'>,
  opts: {
    host: string;
    port: number;
    /** junction tables linking stages to the authorities of client certificates (certificates.ts `clientAuthorities`) */
    stageAuthorityLinks: readonly string[];
    refreshMs?: number;
    onError?: (err: unknown) => void;
  },
): Promise<TlsListener> {
  // authentik's router makes its fallback certificate at start too
  const names = ['localhost', ...(config.externalUrl ? [config.externalUrl.hostname] : [])];
  const built = await buildSelfSigned({ commonName: 'Keystage', subjectAltNames: names, alg: 'ecdsa' });
  const fallback: ServedPair = { cert: built.certificate, key: built.privateKey };
  const contexts = new ContextCache(BASE);
  let authorities: string[] = [];

  const server = https.createServer(
    {
      ...BASE,
      cert: fallback.cert,
      key: fallback.key,
      requestCert: false,
      rejectUnauthorized: false,
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: config.requestTimeoutMs > 0 ? Math.min(config.headersTimeoutMs, config.requestTimeoutMs) : config.headersTimeoutMs,
      keepAliveTimeout: 72_000,
      SNICallback: (servername, cb) => {
        webPairFor(db, servername)
          .then((pair) => cb(null, contexts.get(pair ?? fallback, authorities)))
          .catch((err) => {
            opts.onError?.(err);
            cb(null, contexts.get(fallback, authorities));
          });
      },
    },
    // Fastify's handler, with everything it runs (hooks, routing, error handling)
    (req, res) => app.server.emit('request', req, res),
  );

  async function refresh(): Promise<void> {
    // (PostgreSQL: a certificate or CA changed on another node shows here and in the next handshake's web pair even
    // when no HTTP request has read the configuration epoch since)
    await refreshAdminCache(db);
    const next = await clientAuthorities(db, opts.stageAuthorityLinks);
    if (next.join('\0') === authorities.join('\0')) return;
    authorities = next;
    // read per connection by Node: the change holds from the next handshake on
    server.setSecureContext({
      ...BASE,
      cert: fallback.cert,
      key: fallback.key,
      ...(next.length ? { ca: next } : {}),
    });
    // tls.Server keeps this per server and hands it to each new connection's socket (not in @types/node)
    (server as unknown as { requestCert: boolean }).requestCert = next.length > 0;
  }
  await refresh();
  const timer = setInterval(() => refresh().catch((err) => opts.onError?.(err)), opts.refreshMs ?? 2000);
  timer.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    server,
    port: typeof address === 'object' && address ? address.port : opts.port,
    refresh,
    async close() {
      clearInterval(timer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}
