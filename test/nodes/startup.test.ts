/**
 * Starting on a port that is taken ends the process at once with exit code 1 and one line naming the setting —
 * for the metrics port too, which used to crash the already-serving process with a stack trace.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, serverArgs } from '../helpers/process.js';

/** runs `npm start`'s entry point until it exits (at most 60 s); its exit code and stderr */
function run(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, serverArgs(), {
      // (2048-bit RSA for the first start's self-signed certificate, as the other tests)
      env: { ...process.env, KEYSTAGE_HOST: '127.0.0.1', KEYSTAGE_LOG_LEVEL: 'silent', KEYSTAGE_SELF_SIGNED_KEY_BITS: '2048', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`still running after 60 s; stderr: ${stderr}`));
    }, 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('startup: a port that is taken', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keystage-startup-'));
  const busy = net.createServer();
  let busyPort = 0;
  after(async () => {
    await new Promise((r) => busy.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('KEYSTAGE_METRICS_PORT taken: exit 1 with one clear line, the main port not left serving', async () => {
    busyPort = await new Promise<number>((r) => busy.listen(0, '127.0.0.1', () => r((busy.address() as net.AddressInfo).port)));
    const port = await freePort();
    const { code, stderr } = await run({
      KEYSTAGE_PORT: String(port),
      KEYSTAGE_METRICS_PORT: String(busyPort),
      KEYSTAGE_SQLITE_PATH: path.join(dir, 'a.sqlite3'),
    });
    assert.equal(code, 1);
    assert.match(
      stderr,
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${busyPort} \\(KEYSTAGE_METRICS_PORT; 0 turns metrics off\\): EADDRINUSE`),
    );
    assert.doesNotMatch(stderr, /at Server\.setupListenHandle/, 'no stack trace');
    await assert.rejects(
      fetch(`http://127.0.0.1:${port}/-/health/live/`, { signal: AbortSignal.timeout(2000) }),
      'nothing serves on the main port',
    );
  });

  it('KEYSTAGE_PORT taken: exit 1 with one clear line', async () => {
    const { code, stderr } = await run({
      KEYSTAGE_PORT: String(busyPort),
      KEYSTAGE_METRICS_PORT: '0',
      KEYSTAGE_SQLITE_PATH: path.join(dir, 'b.sqlite3'),
    });
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${busyPort} \\(KEYSTAGE_PORT\\): EADDRINUSE`));
  });
});
