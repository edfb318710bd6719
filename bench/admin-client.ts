/**
 * The admin phase's load generator, run by bench/run.ts as a process of its own: `tsx bench/admin-client.ts <base>
 * <token> <warm-up> <measured>`. Sequential list requests (100 of 10,000 identification stages, search and ordering,
 * pages 1–50 in turn) over one kept-alive node:http connection; prints {p50, p99, worst} as JSON.
 *
 * Why not from run.ts itself: that process holds the seeded users, the earlier phases' latencies and an undici pool,
 * and its own garbage collection (old-space marking steps of up to 15 ms, seen with --trace-gc during this phase)
 * landed in the measured latencies. This process holds nothing but this loop.
 */
import http from 'node:http';

const [base = '', token = '', warmArg = '50', totalArg = '1000'] = process.argv.slice(2);
const { hostname, port } = new URL(base);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function get(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: hostname, port, path, agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => (res.statusCode === 200 ? resolve(bytes) : reject(new Error(`HTTP ${res.statusCode} for ${path}`))));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

const path = (i: number) =>
  `/api/v3/stages/identification/?page_size=100&page=${1 + (i % 50)}&search=bench-stage&ordering=-name&case_insensitive_matching=true`;
const warm = Number(warmArg);
const total = Number(totalArg);
for (let i = 0; i < warm; i++) await get(path(i));
const lat: number[] = [];
for (let i = 0; i < total; i++) {
  const t = performance.now();
  await get(path(i));
  lat.push(performance.now() - t);
}
agent.destroy();
const sorted = [...lat].sort((a, b) => a - b);
const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
// the slowest requests as ms@page#index
const worst = lat
  .map((d, i) => [d, 1 + (i % 50), i] as const)
  .sort((a, b) => b[0] - a[0])
  .slice(0, 25)
  .map((x) => `${x[0].toFixed(1)}@p${x[1]}#${x[2]}`)
  .join(' ');
console.log(JSON.stringify({ p50: pct(0.5), p99: pct(0.99), worst }));
