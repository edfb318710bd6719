/**
 * A City and an ASN database for tests (MaxMind's format, test/helpers/mmdb.ts), with places at documentation and
 * shared address ranges. Requests come from them through X-Forwarded-For with 127.0.0.1 as a trusted proxy.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asnRecord, cityRecord, mmdb } from './mmdb.js';

/** addresses and what the test databases say of them */
export const PLACES = {
  berlin: {
    ip: '198.51.100.10',
    continent: 'EU',
    country: 'DE',
    city: 'Berlin',
    lat: 52.52,
    long: 13.405,
    asn: 64500,
    network: '198.51.100.0/24',
  },
  berlin2: {
    ip: '198.51.100.99',
    continent: 'EU',
    country: 'DE',
    city: 'Berlin',
    lat: 52.52,
    long: 13.405,
    asn: 64500,
    network: '198.51.100.0/24',
  },
  munich: {
    ip: '192.0.2.20',
    continent: 'EU',
    country: 'DE',
    city: 'Munich',
    lat: 48.137,
    long: 11.575,
    asn: 64500,
    network: '192.0.2.0/24',
  },
  paris: {
    ip: '100.64.0.5',
    continent: 'EU',
    country: 'FR',
    city: 'Paris',
    lat: 48.8566,
    long: 2.3522,
    asn: 64502,
    network: '100.64.0.0/24',
  },
  sydney: {
    ip: '203.0.113.7',
    continent: 'OC',
    country: 'AU',
    city: 'Sydney',
    lat: -33.8688,
    long: 151.2093,
    asn: 64501,
    network: '203.0.113.0/24',
  },
  // authentik's test coordinates: "random location in Canada" and "in Poland"
  canada: {
    ip: '100.64.1.9',
    continent: 'NA',
    country: 'CA',
    city: '',
    lat: 55.868351,
    long: -104.441011,
    asn: 64503,
    network: '100.64.1.0/24',
  },
  poland: {
    ip: '100.64.2.9',
    continent: 'EU',
    country: 'PL',
    city: '',
    lat: 50.950613,
    long: 20.363679,
    asn: 64504,
    network: '100.64.2.0/24',
  },
} as const;

/** an address neither database knows */
export const NOWHERE = '100.64.9.9';

/** writes both databases into a new folder; their paths */
export async function geoipFiles(): Promise<{ dir: string; city: string; asn: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'keystage-geoip-'));
  const places = Object.values(PLACES);
  const networks = [...new Map(places.map((p) => [p.network, p])).values()];
  const city = join(dir, 'GeoLite2-City.mmdb');
  const asn = join(dir, 'GeoLite2-ASN.mmdb');
  await writeFile(
    city,
    mmdb(
      'GeoLite2-City',
      networks.map((p) => ({
        network: p.network,
        record: cityRecord({ continent: p.continent, country: p.country, city: p.city || undefined, lat: p.lat, long: p.long }),
      })),
    ),
  );
  await writeFile(
    asn,
    mmdb(
      'GeoLite2-ASN',
      networks.map((p) => ({ network: p.network, record: asnRecord(p.asn, `AS${p.asn} Example`) })),
    ),
  );
  return { dir, city, asn };
}
