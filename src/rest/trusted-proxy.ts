/**
 * Whether the peer a request came from (the socket's address, not X-Forwarded-For) is one of KEYSTAGE_TRUSTED_PROXIES
 * — for headers only a proxy may set, beyond the X-Forwarded-* that Fastify itself resolves with the same setting
 * (e.g. the client certificate a proxy terminating TLS forwards: the mutual TLS stage).
 *
 * The setting's syntax is Fastify's `trustProxy` string: comma-separated addresses and CIDR ranges, and proxy-addr's
 * names `loopback`, `linklocal` and `uniquelocal`.
 */
import { BlockList, isIP } from 'node:net';

const NAMED: Record<string, string[]> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

function add(list: BlockList, entry: string): void {
  const [address = '', bits] = entry.split('/');
  const family = isIP(address) === 6 ? 'ipv6' : isIP(address) === 4 ? 'ipv4' : undefined;
  if (!family) return;
  if (bits === undefined) list.addAddress(address, family);
  else list.addSubnet(address, Number(bits), family);
}

const compiled = new Map<string, BlockList>();

function compile(setting: string): BlockList {
  let list = compiled.get(setting);
  if (list) return list;
  list = new BlockList();
  for (const raw of setting.split(',')) {
    const entry = raw.trim().toLowerCase();
    for (const e of NAMED[entry] ?? [entry]) add(list, e);
  }
  compiled.set(setting, list);
  return list;
}

/** `address` as the socket reports it (IPv4-mapped IPv6 addresses count as their IPv4 address) */
export function isTrustedProxy(setting: string | undefined, address: string | undefined): boolean {
  if (!setting || !address) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const addr = mapped ? mapped[1]! : address;
  const family = isIP(addr) === 6 ? 'ipv6' : isIP(addr) === 4 ? 'ipv4' : undefined;
  return family !== undefined && compile(setting).check(addr, family);
}
