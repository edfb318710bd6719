/** Entry point of `npm start`: load configuration, build the app, listen, stop cleanly on SIGTERM/SIGINT. */
import type { Socket } from 'node:net';
import { loadConfig } from './config.js';
import { startIdleGc } from './instance/idle-gc.js';
import { startTlsListener, type TlsListener } from './instance/tls/listener.js';
import { buildApp } from './server.js';
import { stageM2mReferences } from './stages/registry.js';

const config = loadConfig();
const built = await buildApp(config);

/** a port that cannot be taken ends the process with one clear line naming the setting, not a stack trace */
async function listenOrExit(app: typeof built.app, host: string, port: number, setting: string) {
  try {
    await app.listen({ port, host });
  } catch (e) {
    const code = (e as { code?: string }).code ?? (e as Error).message;
    // stderr, whatever the log level
    console.error(`keystage: cannot listen on ${host}:${port} (${setting}): ${code}`);
    await built.close().catch(() => {});
    process.exit(1);
  }
}

// what a shutdown may have to cut off: open connections and requests not yet answered
const server = built.app.server;
const sockets = new Set<Socket>();
let inFlight = 0;
// `on`, not `once` ('close' comes once anyway): with a `once` listener on every response, V8 starts allocating some
// of Node's per-request objects straight in the old generation, where, dead, they keep the next requests' objects
// alive through scavenges — measured: promoted bytes per scavenge on an admin list 143 → 73 KB, on a bare route
// 436 → 3 KB (bench/RESULTS.md, eighteenth session)
const requestDone = () => inFlight--;
// a quiet process gives back the heap a burst left behind (V8 alone keeps it while idle)
const { metrics } = built.services;
const idleGc = startIdleGc({
  quietMs: config.idleGcMs,
  collected: (before, after) => {
    metrics.idleGcs.inc();
    metrics.idleGcReleased.inc(Math.max(0, before - after));
  },
  failed: (err) => built.app.log.warn({ err }, 'idle garbage collection unavailable; not tried again'),
});
server.on('connection', (socket: Socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
});
server.on('request', (_req, res) => {
  inFlight++;
  idleGc.request();
  res.on('close', requestDone);
});

// the metrics port has no authentication: it listens on its own address, loopback unless KEYSTAGE_METRICS_HOST says otherwise
if (config.metricsPort > 0)
  await listenOrExit(built.metricsApp, config.metricsHost, config.metricsPort, 'KEYSTAGE_METRICS_PORT; 0 turns metrics off');
await listenOrExit(built.app, config.host, config.port, 'KEYSTAGE_PORT');
// the TLS port hands its requests to the same application (counted above through the server's 'request' event)
let tls: TlsListener | undefined;
if (config.tlsPort > 0)
  try {
    tls = await startTlsListener(built.app, built.services.db, config, {
      host: config.host,
      port: config.tlsPort,
      stageAuthorityLinks: stageM2mReferences('crypto_certificatekeypairs').map((r) => r.table),
      onError: (err) => built.app.log.warn({ err }, 'TLS certificate lookup failed; serving the self-signed certificate'),
    });
    tls.server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
  } catch (e) {
    console.error(
      `keystage: cannot listen on ${config.host}:${config.tlsPort} (KEYSTAGE_TLS_PORT): ${(e as { code?: string }).code ?? (e as Error).message}`,
    );
    await built.close().catch(() => {});
    process.exit(1);
  }

let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const)
  process.on(sig, () => {
    if (stopping) {
      // a second signal: stop waiting
      built.app.log.warn({ signal: sig, openConnections: sockets.size, inFlightRequests: inFlight }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    idleGc.stop();
    built.app.log.info({ signal: sig, graceMs: config.shutdownGraceMs }, 'shutting down');
    // in-flight requests finish; keep-alive connections are closed as soon as they fall idle
    const idle = setInterval(() => {
      server.closeIdleConnections();
      tls?.server.closeIdleConnections();
    }, 100);
    idle.unref();
    // whatever is still pending when the grace period is over (a slow client, a hung database call) is cut off
    setTimeout(() => {
      built.app.log.warn(
        { graceMs: config.shutdownGraceMs, openConnections: sockets.size, inFlightRequests: inFlight },
        'shutdown grace period over: closing what is still open',
      );
      server.closeAllConnections();
      tls?.server.closeAllConnections();
      process.exit(1);
    }, config.shutdownGraceMs);
    // the TLS port first: its requests use the application and database that built.close() ends
    Promise.resolve(tls?.close())
      .then(() => built.close())
      .then(() => process.exit(0))
      .catch((err) => {
        built.app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  });
