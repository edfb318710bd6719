/**
 * Sessions bound to where they were logged in from (the user login stage's `network_binding` and `geoip_binding`;
 * authentik's BoundSessionMiddleware). A logged-in session remembers the modes and the address it logged in from;
 * a request from another address must share with it, by the ASN and GeoIP databases (src/geoip/):
 *
 * - `bind_asn`: the autonomous system; `bind_asn_network`: and the network the ASN database answered for;
 *   `bind_asn_network_ip`: and the address itself;
 * - `bind_continent`, `bind_continent_country`, `bind_continent_country_city`: the continent, then country, then city.
 *
 * An address a database does not know breaks the binding (authentik's `network.missing`, `geoip.missing`), so a
 * GeoIP binding without a City database ends the session at the first change of address. Without an ASN database
 * the network modes compare the network prefix instead (/24 for IPv4, /48 for IPv6) and the IP mode the address,
 * as Keystage did before it read ASN databases. Each comparison is with the login's address: ASN, network,
 * continent, country and city being equalities, that is authentik's comparison with the last address that passed.
 */
import net from 'node:net';
import { expandV6, type GeoIP } from '../geoip/databases.js';

export type NetworkBinding = 'no_binding' | 'bind_asn' | 'bind_asn_network' | 'bind_asn_network_ip';
export type GeoIPBinding = 'no_binding' | 'bind_continent' | 'bind_continent_country' | 'bind_continent_country_city';

/** what a session keeps at login (SessionData.bound) */
export interface Bound {
  ip: string;
  net?: NetworkBinding;
  geo?: GeoIPBinding;
}

/** why a binding broke, in authentik's logout event shape */
export interface BindingBroken {
  logout_reason: 'Session binding broken';
  binding: { reason: string; previous_value: unknown; new_value: unknown };
  ip: { previous: string; new: string };
}

export function networkOf(ip: string): string {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  if (net.isIPv4(v4)) return v4.split('.').slice(0, 3).join('.') + '.0/24';
  if (net.isIPv6(ip)) {
    const full = expandV6(ip);
    return full.split(':').slice(0, 3).join(':') + '::/48';
  }
  return ip;
}

/** what a session remembers at login, or undefined when neither mode binds */
export function boundAt(netMode: string, geoMode: string, ip: string): Bound | undefined {
  const n = netMode as NetworkBinding;
  const g = geoMode as GeoIPBinding;
  if ((!n || n === 'no_binding') && (!g || g === 'no_binding')) return undefined;
  return { ip, ...(n && n !== 'no_binding' ? { net: n } : {}), ...(g && g !== 'no_binding' ? { geo: g } : {}) };
}

const broken = (reason: string, previous: unknown, next: unknown, oldIp: string, newIp: string): BindingBroken => ({
  logout_reason: 'Session binding broken',
  binding: { reason, previous_value: previous, new_value: next },
  ip: { previous: oldIp, new: newIp },
});

function checkNet(mode: NetworkBinding, last: string, now: string, geoip: GeoIP): BindingBroken | undefined {
  if (!geoip.canAsn) {
    // no ASN database: the network prefix stands for the autonomous system and its network
    if (mode === 'bind_asn_network_ip') return broken('network.ip', last, now, last, now);
    return networkOf(last) === networkOf(now) ? undefined : broken('network.asn_network', networkOf(last), networkOf(now), last, now);
  }
  const a = geoip.asn(last);
  const b = geoip.asn(now);
  if (!a || !b) return broken('network.missing', a, b, last, now);
  if (a.asn !== b.asn) return broken('network.asn', a.asn, b.asn, last, now);
  if (mode !== 'bind_asn' && a.network !== b.network) return broken('network.asn_network', a.network, b.network, last, now);
  if (mode === 'bind_asn_network_ip') return broken('network.ip', last, now, last, now);
  return undefined;
}

function checkGeo(mode: GeoIPBinding, last: string, now: string, geoip: GeoIP): BindingBroken | undefined {
  const a = geoip.city(last);
  const b = geoip.city(now);
  if (!a || !b) return broken('geoip.missing', a, b, last, now);
  if (a.continent !== b.continent) return broken('geoip.continent', a.continent, b.continent, last, now);
  if (mode === 'bind_continent') return undefined;
  if (a.country !== b.country) return broken('geoip.country', a.country, b.country, last, now);
  if (mode === 'bind_continent_country') return undefined;
  if (a.city !== b.city) return broken('geoip.city', a.city, b.city, last, now);
  return undefined;
}

/**
 * undefined when a request from `ip` may use the session, else why not. `legacy`: a binding kept by a session
 * logged in before GeoIP support (`ip:<address>` or `net:<prefix>`).
 */
export function bindingBroken(bound: Bound | undefined, legacy: string | undefined, ip: string, geoip: GeoIP): BindingBroken | undefined {
  if (legacy && !bound) {
    if (legacy.startsWith('ip:'))
      return legacy.slice(3) === ip ? undefined : broken('network.ip', legacy.slice(3), ip, legacy.slice(3), ip);
    if (legacy.startsWith('net:'))
      return legacy.slice(4) === networkOf(ip) ? undefined : broken('network.asn_network', legacy.slice(4), networkOf(ip), '', ip);
    return broken('network.missing', legacy, null, '', ip);
  }
  if (!bound || bound.ip === ip) return undefined;
  return (bound.net && checkNet(bound.net, bound.ip, ip, geoip)) || (bound.geo && checkGeo(bound.geo, bound.ip, ip, geoip)) || undefined;
}
