/**
 * GeoIP and ASN lookups from MaxMind databases (authentik's `events.context_processors.geoip` and `.asn`, the files
 * GeoLite2-City and GeoLite2-ASN or their commercial equivalents), read with the `maxmind` library. A file that
 * is not there or not a MaxMind database leaves its lookups off (authentik logs "Failed to load MMDB database" and
 * goes on); a file that changes (a geoipupdate run) is read again, checked at most every `checkEveryMs`.
 *
 * What is looked up is authentik's: a city as `{continent, country, lat, long, city}` (GeoIPDict), an autonomous
 * system as `{asn, as_org, network}` (ASNDict, the network the database answered for).
 */
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { Reader, type AsnResponse, type CityResponse } from 'maxmind';

export interface GeoIPDict {
  continent: string | null;
  country: string | null;
  lat: number | null;
  long: number | null;
  city: string;
}

export interface ASNDict {
  asn: number;
  as_org: string | null;
  network: string | null;
}

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** an address as the databases take it: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as IPv4; undefined: not an address */
function plainIp(ip: string | undefined | null): string | undefined {
  if (!ip) return undefined;
  const v = ip.startsWith('::ffff:') && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
  return net.isIP(v) ? v : undefined;
}

/** one MaxMind database file, read again when it changes */
class MmdbFile<T extends CityResponse | AsnResponse> {
  private reader: Reader<T> | undefined;
  private mtimeMs = 0;
  private checkedAt = 0;

  constructor(
    readonly path: string | undefined,
    private readonly log: Log,
    private readonly checkEveryMs: number,
    /** the path was the default, not configured: its absence is not worth a warning */
    private readonly quietIfMissing: boolean,
  ) {
    this.open();
  }

  get enabled(): boolean {
    this.refresh();
    return this.reader !== undefined;
  }

  private open() {
    if (!this.path) return;
    try {
      const mtimeMs = statSync(this.path).mtimeMs;
      this.reader = new Reader<T>(readFileSync(this.path));
      this.mtimeMs = mtimeMs;
      this.log.info({ file: this.path, last_write: new Date(mtimeMs).toISOString() }, 'Loaded MMDB database');
    } catch (e) {
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
      if (!(missing && this.quietIfMissing)) this.log.warn({ path: this.path, exc: (e as Error).message }, 'Failed to load MMDB database');
    }
  }

  /** authentik's check_expired: a newer file is read again (the old reader kept if the new file cannot be read) */
  private refresh() {
    if (!this.path) return;
    const now = Date.now();
    if (now - this.checkedAt < this.checkEveryMs) return;
    this.checkedAt = now;
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.path).mtimeMs;
    } catch {
      return;
    }
    if (mtimeMs > this.mtimeMs || !this.reader) {
      const before = this.reader;
      this.reader = undefined;
      this.open();
      if (!this.reader && before) this.reader = before;
      if (this.reader && this.reader !== before) this.log.info({ path: this.path }, 'Found new MMDB Database, reopening');
    }
  }

  /** the record for `ip` and the prefix length of the network it was found under; undefined when not found */
  lookup(ip: string | undefined | null): { data: T; prefix: number; ip: string } | undefined {
    const addr = plainIp(ip);
    if (!addr || !this.enabled) return undefined;
    try {
      const [data, prefix] = this.reader!.getWithPrefixLength(addr);
      return data ? { data, prefix, ip: addr } : undefined;
    } catch {
      // (an IPv6 address against an IPv4-only database, a corrupt file: not found, as authentik's ValueError)
      return undefined;
    }
  }
}

/** the network `ip` lies in, given the prefix length a database answered with (IPv4 prefixes of an IPv6 tree included) */
function networkOf(ip: string, prefix: number): string {
  if (net.isIPv4(ip)) {
    const bits = prefix > 32 ? prefix - 96 : prefix;
    const n = ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    const masked = bits <= 0 ? 0 : n - (n % 2 ** (32 - bits));
    const octets = [24, 16, 8, 0].map((s) => Math.floor(masked / 2 ** s) % 256);
    return `${octets.join('.')}/${Math.max(bits, 0)}`;
  }
  const groups = expandV6(ip)
    .split(':')
    .map((g) => Number.parseInt(g, 16));
  let left = prefix;
  const out = groups.map((g) => {
    const keep = Math.max(0, Math.min(16, left));
    left -= 16;
    return keep === 16 ? g : keep === 0 ? 0 : g & (0xffff << (16 - keep)) & 0xffff;
  });
  return `${compressV6(out)}/${prefix}`;
}

/** an IPv6 address with its eight groups written out, four hex digits each (`2001:db8::1` → `2001:0db8:0000:…:0001`) */
export function expandV6(ip: string): string {
  const [head, tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail !== undefined ? Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((x) => x.padStart(4, '0')).join(':');
}

/** RFC 5952's text form: lowercase, the longest run of zero groups (two or more) as `::` */
function compressV6(groups: number[]): string {
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len && j - i >= 2) best = { at: i, len: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}

export interface GeoIPOptions {
  /** the City database (authentik's AUTHENTIK_EVENTS__CONTEXT_PROCESSORS__GEOIP); undefined or '': off */
  cityPath: string | undefined;
  /** the ASN database (AUTHENTIK_EVENTS__CONTEXT_PROCESSORS__ASN); undefined or '': off */
  asnPath: string | undefined;
  /** a path that is only the default: no warning when it is missing */
  defaults?: { city: boolean; asn: boolean };
  /** how often a lookup may check whether a file changed (ms) */
  checkEveryMs?: number;
}

/** the two databases, as events, policies, reputation scores and session bindings ask them */
export class GeoIP {
  private readonly cityDb: MmdbFile<CityResponse>;
  private readonly asnDb: MmdbFile<AsnResponse>;

  constructor(opts: GeoIPOptions, log: Log) {
    const every = opts.checkEveryMs ?? 10_000;
    this.cityDb = new MmdbFile(opts.cityPath || undefined, log, every, opts.defaults?.city ?? false);
    this.asnDb = new MmdbFile(opts.asnPath || undefined, log, every, opts.defaults?.asn ?? false);
  }

  /** authentik's capability `can_geo_ip` */
  get canGeoIp(): boolean {
    return this.cityDb.enabled;
  }

  /** authentik's capability `can_asn` */
  get canAsn(): boolean {
    return this.asnDb.enabled;
  }

  /** authentik's city_dict: null when the database is off or does not know the address */
  city(ip: string | undefined | null): GeoIPDict | null {
    const hit = this.cityDb.lookup(ip);
    if (!hit) return null;
    const c = hit.data;
    return {
      continent: c.continent?.code ?? null,
      country: c.country?.iso_code ?? null,
      lat: c.location?.latitude ?? null,
      long: c.location?.longitude ?? null,
      city: c.city?.names?.en ?? '',
    };
  }

  /** authentik's asn_dict: null when the database is off or does not know the address */
  asn(ip: string | undefined | null): ASNDict | null {
    const hit = this.asnDb.lookup(ip);
    if (!hit || hit.data.autonomous_system_number === undefined) return null;
    return {
      asn: hit.data.autonomous_system_number,
      as_org: hit.data.autonomous_system_organization ?? null,
      network: networkOf(hit.ip, hit.prefix),
    };
  }

  /**
   * What a policy request's context gains from the client's address (authentik's `enrich_context`: `geoip` and
   * `asn`, null when not found); a database that is off adds nothing, as authentik's unconfigured processors.
   */
  policyContext(ip: string | undefined | null): { geoip?: GeoIPDict | null; asn?: ASNDict | null } {
    const out: { geoip?: GeoIPDict | null; asn?: ASNDict | null } = {};
    if (this.cityDb.enabled) out.geoip = this.city(ip);
    if (this.asnDb.enabled) out.asn = this.asn(ip);
    return out;
  }

  /** what an event's context gains (authentik's `enrich_event`: `geo` and `asn`, only when found) */
  eventContext(ip: string | undefined | null): { geo?: GeoIPDict; asn?: ASNDict } {
    if (!ip) return {};
    const geo = this.city(ip);
    const asn = this.asn(ip);
    return { ...(geo ? { geo } : {}), ...(asn ? { asn } : {}) };
  }
}
