/**
 * A spawned process (src/main.ts): SIGTERM ends it within KEYSTAGE_SHUTDOWN_GRACE_MS whatever is still pending,
 * logging what was cut off; the unauthenticated metrics port listens on loopback unless KEYSTAGE_METRICS_HOST says
 * otherwise (tried on other loopback addresses only).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, startNode } from '../helpers/process.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keystage-shutdown-'));

/** a POST whose body never finishes arriving: the request stays in flight */
function hangingRequest(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(
        'POST /api/v3/flows/executor/default-authentication-flow/?query= HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"com',
      );
      resolve(s);
    });
    s.on('error', () => {});
    s.once('error', reject);
  });
}

/** whether something answers GET /metrics on host:port within 2 s */
async function metricsAt(host: string, port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://${host}:${port}/metrics`, { signal: AbortSignal.timeout(2000) });
    return res.ok && (await res.text()).includes('keystage_');
  } catch {
    return false;
  }
}

describe('process shutdown and metrics address', () => {
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('SIGTERM with a request held open past KEYSTAGE_SHUTDOWN_GRACE_MS: the process exits anyway and logs what it cut off', async () => {
    let output = '';
    const node = await startNode(
      {
        KEYSTAGE_SQLITE_PATH: path.join(dir, 'grace.sqlite3'),
        KEYSTAGE_SHUTDOWN_GRACE_MS: '500',
        KEYSTAGE_REQUEST_TIMEOUT_MS: '600000',
        KEYSTAGE_LOG_LEVEL: 'info',
      },
      undefined,
      { output: (c) => (output += c) },
    );
    const socket = await hangingRequest(node.port);
    // a keep-alive connection that stays idle closes on its own during shutdown
    const idle = await fetch(`${node.url}/-/health/live/`);
    assert.equal(idle.status, 200);
    await new Promise((r) => setTimeout(r, 200));
    node.child.kill('SIGTERM');
    // bounded: a process that never exits fails here instead of hanging the suite
    const code = await Promise.race([node.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))]);
    if (code === 'hung') node.child.kill('SIGKILL');
    assert.notEqual(code, 'hung', 'the process exited within the grace period (plus slack)');
    assert.equal(code, 1, 'cutting off a request is not a clean exit');
    socket.destroy();
    const cut = output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => String(l.msg).startsWith('shutdown grace period over'));
    assert.ok(cut, output);
    assert.equal(cut.inFlightRequests, 1);
    assert.equal(cut.openConnections, 1);
    assert.equal(cut.graceMs, 500);
  });

  it('SIGTERM with nothing pending exits 0 at once', async () => {
    const node = await startNode({ KEYSTAGE_SQLITE_PATH: path.join(dir, 'clean.sqlite3'), KEYSTAGE_SHUTDOWN_GRACE_MS: '20000' });
    assert.equal((await fetch(`${node.url}/-/health/live/`)).status, 200);
    node.child.kill('SIGTERM');
    const code = await Promise.race([node.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000))]);
    if (code === 'hung') node.child.kill('SIGKILL');
    assert.equal(code, 0);
  });

  it('metrics listen on 127.0.0.1 by default, whatever KEYSTAGE_HOST is; KEYSTAGE_METRICS_HOST moves them', async () => {
    // the main listener on another loopback address, so that "not on KEYSTAGE_HOST" is observable
    const port = await freePort();
    const metricsPort = await freePort();
    const node = await startNode(
      { KEYSTAGE_SQLITE_PATH: path.join(dir, 'metrics.sqlite3'), KEYSTAGE_METRICS_PORT: String(metricsPort), KEYSTAGE_HOST: '127.0.0.2' },
      port,
    );
    try {
      assert.equal(await metricsAt('127.0.0.1', metricsPort), true);
      assert.equal(await metricsAt('127.0.0.2', metricsPort), false);
      assert.equal((await fetch(`http://127.0.0.2:${port}/-/health/live/`)).status, 200);
    } finally {
      node.child.kill('SIGTERM');
      await node.exited;
    }
    const moved = await startNode(
      {
        KEYSTAGE_SQLITE_PATH: path.join(dir, 'metrics.sqlite3'),
        KEYSTAGE_METRICS_PORT: String(metricsPort),
        KEYSTAGE_METRICS_HOST: '127.0.0.3',
      },
      port,
    );
    try {
      assert.equal(await metricsAt('127.0.0.3', metricsPort), true);
      assert.equal(await metricsAt('127.0.0.1', metricsPort), false);
    } finally {
      moved.child.kill('SIGTERM');
      await moved.exited;
    }
  });
});
