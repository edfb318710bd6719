/** Entry point of `npm start`: load configuration, build the app, listen, stop cleanly on SIGTERM/SIGINT. */
import { loadConfig } from './config.js';
import { buildApp } from './server.js';

const config = loadConfig();
const built = await buildApp(config);

/** a port that cannot be taken ends the process with one clear line naming the setting, not a stack trace */
async function listenOrExit(app: typeof built.app, port: number, setting: string) {
  try {
    await app.listen({ port, host: config.host });
  } catch (e) {
    const code = (e as { code?: string }).code ?? (e as Error).message;
    // stderr, whatever the log level
    console.error(`keystage: cannot listen on ${config.host}:${port} (${setting}): ${code}`);
    await built.close().catch(() => {});
    process.exit(1);
  }
}
if (config.metricsPort > 0) await listenOrExit(built.metricsApp, config.metricsPort, 'KEYSTAGE_METRICS_PORT; 0 turns metrics off');
await listenOrExit(built.app, config.port, 'KEYSTAGE_PORT');

let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const)
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    built.app.log.info({ signal: sig }, 'shutting down');
    // in-flight requests finish; keep-alive connections are closed as soon as they fall idle
    const idle = setInterval(() => built.app.server.closeIdleConnections(), 100);
    built
      .close()
      .then(() => process.exit(0))
      .catch(() => process.exit(1))
      .finally(() => clearInterval(idle));
  });
