/**
 * Session network binding (user login stage `network_binding`). Keystage ships no ASN database, so the ASN and
 * ASN+network modes are enforced on the client's network prefix (/24 for IPv4, /48 for IPv6) and the
 * ASN+network+IP mode on the exact address. (GeoIP binding needs a GeoIP database and is not enforced.)
 */
import net from 'node:net';

export type NetworkBinding = 'no_binding' | 'bind_asn' | 'bind_asn_network' | 'bind_asn_network_ip';

export function networkOf(ip: string): string {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  if (net.isIPv4(v4)) return v4.split('.').slice(0, 3).join('.') + '.0/24';
  if (net.isIPv6(ip)) {
    const full = expandV6(ip);
    return full.split(':').slice(0, 3).join(':') + '::/48';
  }
  return ip;
}

function expandV6(ip: string): string {
  const [head, tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail !== undefined ? Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((x) => x.padStart(4, '0')).join(':');
}

/** what the session remembers at login, or undefined for no binding */
export function bindingKey(mode: string, ip: string): string | undefined {
  if (mode === 'bind_asn_network_ip') return `ip:${ip}`;
  if (mode === 'bind_asn' || mode === 'bind_asn_network') return `net:${networkOf(ip)}`;
  return undefined;
}

export function bindingHolds(key: string | undefined, ip: string): boolean {
  if (!key) return true;
  if (key.startsWith('ip:')) return key.slice(3) === ip;
  if (key.startsWith('net:')) return key.slice(4) === networkOf(ip);
  return false;
}
