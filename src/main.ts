/** Entry point of `npm start`: load configuration, build the app, listen, stop cleanly on SIGTERM/SIGINT. */
import { loadConfig } from './config.js';
import { buildApp } from './server.js';

const config = loadConfig();
const built = await buildApp(config);
await built.app.listen({ port: config.port, host: config.host });
if (config.metricsPort > 0) await built.metricsApp.listen({ port: config.metricsPort, host: config.host });

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
