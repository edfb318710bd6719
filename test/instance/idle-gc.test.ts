/**
 * A quiet process gives its heap's slack back (src/instance/idle-gc.ts): not while requests keep coming, once they
 * stop, and not again until the heap has grown; in a spawned server, counted on the metrics port.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startIdleGc } from '../../src/instance/idle-gc.js';
import { freePort, startNode } from '../helpers/process.js';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: () => boolean, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(50)) if (what()) return true;
  return what();
}

/** about 48 MB of small objects that survive long enough to reach V8's old generation */
function garbage(): unknown[] {
  const kept: unknown[] = [];
  for (let i = 0; i < 400_000; i++) kept.push({ i, s: `item-${i}`, a: [i, i + 1, i + 2] });
  return kept;
}

describe('idle garbage collection', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keystage-idle-gc-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('waits while requests keep coming, collects once they stop, and not again without growth', async () => {
    const collected: Array<{ before: number; after: number }> = [];
    const idle = startIdleGc({ quietMs: 300, minGrowthBytes: 8 * MiB, collected: (before, after) => collected.push({ before, after }) });
    try {
      // twenty requests a second: busy, whatever the heap holds
      const busy = setInterval(() => idle.request(), 50);
      let junk: unknown[] | undefined = garbage();
      await sleep(1200);
      assert.equal(junk.length, 400_000);
      assert.equal(collected.length, 0, 'no collection while requests keep coming');
      clearInterval(busy);
      junk = undefined;
      assert.ok(await until(() => collected.length > 0, 5000), 'a collection once quiet');
      const first = collected[0]!;
      assert.ok(first.after < first.before, `the heap shrank: ${first.before} → ${first.after} bytes`);
      // quiet still, but nothing new to give back
      await sleep(1200);
      assert.equal(collected.length, 1, 'no second collection without growth');
    } finally {
      idle.stop();
    }
  });

  it('never collects when turned off (KEYSTAGE_IDLE_GC_SECONDS=0)', async () => {
    let collected = 0;
    const idle = startIdleGc({ quietMs: 0, minGrowthBytes: 0, collected: () => collected++ });
    await sleep(500);
    idle.stop();
    assert.equal(collected, 0);
  });

  it('a spawned server counts its idle collections and the bytes given back on the metrics port', async () => {
    const metricsPort = await freePort();
    const node = await startNode({
      KEYSTAGE_SQLITE_PATH: path.join(dir, 'idle.sqlite3'),
      KEYSTAGE_IDLE_GC_SECONDS: '1',
      KEYSTAGE_METRICS_PORT: String(metricsPort),
    });
    try {
      const read = async () => {
        const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        const value = (name: string) => Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1] ?? Number.NaN);
        return { runs: value('keystage_idle_gc_total'), released: value('keystage_idle_gc_released_bytes_total') };
      };
      // start-up leaves garbage: the first quiet second takes it
      let last = await read();
      for (const deadline = Date.now() + 15_000; last.runs < 1 && Date.now() < deadline; await sleep(200)) last = await read();
      assert.ok(last.runs >= 1, `an idle collection within 15 s of start (${last.runs})`);
      assert.ok(last.released > 0, `heap given back (${last.released} bytes)`);
    } finally {
      node.child.kill('SIGTERM');
      await node.exited;
    }
  });
});
