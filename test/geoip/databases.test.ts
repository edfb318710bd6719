/**
 * src/geoip/databases.ts against MaxMind files (test/helpers/mmdb.ts): lookups in authentik's shapes, IPv4-mapped
 * and IPv6 addresses, a file that is missing or not a database (off, a warning, no error), a changed file read again
 * and a broken replacement leaving the last good one in use.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GeoIP } from '../../src/geoip/databases.js';
import { asnRecord, cityRecord, mmdb } from '../helpers/mmdb.js';

function recorder() {
  const lines: { level: string; msg: string; obj: object }[] = [];
  return {
    lines,
    info: (obj: object, msg: string) => lines.push({ level: 'info', msg, obj }),
    warn: (obj: object, msg: string) => lines.push({ level: 'warn', msg, obj }),
  };
}

describe('GeoIP and ASN databases: reading MaxMind files', () => {
  it('lookups in authentik’s shapes; IPv4-mapped and IPv6 addresses; unknown ones are null', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keystage-mmdb-'));
    try {
      const city = join(dir, 'city.mmdb');
      const asn = join(dir, 'asn.mmdb');
      await writeFile(
        city,
        mmdb('GeoLite2-City', [
          { network: '198.51.100.0/24', record: cityRecord({ continent: 'EU', country: 'DE', city: 'Berlin', lat: 52.52, long: 13.405 }) },
          { network: '2001:db8::/32', record: cityRecord({ continent: 'EU', country: 'FR', lat: 48.85, long: 2.35 }) },
        ]),
      );
      await writeFile(
        asn,
        mmdb('GeoLite2-ASN', [
          { network: '198.51.100.0/25', record: asnRecord(64500, 'Example') },
          { network: '2001:db8:1::/48', record: asnRecord(64501, 'Example v6') },
        ]),
      );
      const log = recorder();
      const g = new GeoIP({ cityPath: city, asnPath: asn }, log);
      assert.deepEqual(
        log.lines.map((l) => l.msg),
        ['Loaded MMDB database', 'Loaded MMDB database'],
      );
      assert.deepEqual([g.canGeoIp, g.canAsn], [true, true]);
      const berlin = { continent: 'EU', country: 'DE', lat: 52.52, long: 13.405, city: 'Berlin' };
      assert.deepEqual(g.city('198.51.100.7'), berlin);
      assert.deepEqual(g.city('::ffff:198.51.100.7'), berlin);
      assert.deepEqual(g.asn('198.51.100.7'), { asn: 64500, as_org: 'Example', network: '198.51.100.0/25' });
      assert.equal(g.asn('198.51.100.200'), null, 'outside the /25');
      assert.deepEqual(g.city('2001:db8:5::1'), { continent: 'EU', country: 'FR', lat: 48.85, long: 2.35, city: '' });
      assert.deepEqual(g.asn('2001:db8:1:ffff::1'), { asn: 64501, as_org: 'Example v6', network: '2001:db8:1::/48' });
      for (const ip of ['127.0.0.1', '::1', 'not an address', '', undefined, null]) {
        assert.equal(g.city(ip), null, String(ip));
        assert.equal(g.asn(ip), null, String(ip));
      }
      assert.deepEqual(g.policyContext('127.0.0.1'), { geoip: null, asn: null }, 'databases on: the keys are there, null');
      assert.deepEqual(g.eventContext('127.0.0.1'), {}, 'events gain only what was found');
      assert.deepEqual(g.eventContext('198.51.100.7'), { geo: berlin, asn: { asn: 64500, as_org: 'Example', network: '198.51.100.0/25' } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a missing or broken file leaves lookups off; a changed file is read again; a broken replacement keeps the last', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keystage-mmdb-'));
    try {
      const city = join(dir, 'city.mmdb');
      const log = recorder();
      const quiet = new GeoIP({ cityPath: join(dir, 'none.mmdb'), asnPath: '', defaults: { city: true, asn: false } }, log);
      assert.deepEqual([quiet.canGeoIp, quiet.canAsn, log.lines.length], [false, false, 0], 'a missing default file says nothing');
      const loud = new GeoIP({ cityPath: join(dir, 'none.mmdb'), asnPath: undefined }, log);
      assert.equal(loud.canGeoIp, false);
      assert.deepEqual(
        log.lines.map((l) => [l.level, l.msg]),
        [['warn', 'Failed to load MMDB database']],
      );
      await writeFile(city, 'not a MaxMind database');
      const broken = new GeoIP({ cityPath: city, asnPath: '', checkEveryMs: 0 }, log);
      assert.equal(broken.canGeoIp, false);
      assert.equal(broken.city('198.51.100.7'), null);

      const at = (place: string, lat: number) => cityRecord({ continent: 'EU', country: 'DE', city: place, lat, long: 10 });
      await writeFile(city, mmdb('GeoLite2-City', [{ network: '198.51.100.0/24', record: at('Berlin', 52) }]));
      const t = Date.now() / 1000;
      await utimes(city, t - 10, t - 10);
      assert.equal(broken.city('198.51.100.7')?.city, 'Berlin', 'a file that appears is read');
      await writeFile(city, mmdb('GeoLite2-City', [{ network: '198.51.100.0/24', record: at('Hamburg', 53) }]));
      await utimes(city, t, t);
      assert.equal(broken.city('198.51.100.7')?.city, 'Hamburg', 'a newer file is read again');
      assert.ok(log.lines.some((l) => l.msg === 'Found new MMDB Database, reopening'));
      await writeFile(city, 'truncated');
      await utimes(city, t + 10, t + 10);
      assert.equal(broken.city('198.51.100.7')?.city, 'Hamburg', 'a broken replacement: the last good database stays');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
