/**
 * Writes MaxMind DB files (the format of GeoLite2-City and GeoLite2-ASN: https://maxmind.github.io/MaxMind-DB/) for
 * tests: an IPv6 search tree with 32-bit records, IPv4 networks under ::/96 as MaxMind's own files keep them, a data
 * section and the metadata. Networks must not overlap. Keystage reads them with the `maxmind` library, as it reads
 * MaxMind's files.
 */
import net from 'node:net';

type Value = string | number | boolean | Value[] | { [k: string]: Value };

function control(type: number, size: number): Buffer {
  const ext = type > 7;
  const first = (ext ? 0 : type) << 5;
  let head: number[];
  if (size < 29) head = [first | size];
  else if (size < 29 + 256) head = [first | 29, size - 29];
  else if (size < 285 + 65536) head = [first | 30, (size - 285) >> 8, (size - 285) & 0xff];
  else throw new Error('value too large');
  if (ext) head.splice(1, 0, type - 7);
  return Buffer.from(head);
}

function uint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  while (v > 0) {
    bytes.unshift(v % 256);
    v = Math.floor(v / 256);
  }
  return Buffer.from(bytes);
}

function encode(v: Value): Buffer {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([control(2, b.length), b]);
  }
  if (typeof v === 'boolean') return control(14, v ? 1 : 0);
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v < 2 ** 32) {
      const b = uint(v);
      return Buffer.concat([control(6, b.length), b]);
    }
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    return Buffer.concat([control(3, 8), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([control(11, v.length), ...v.map(encode)]);
  const keys = Object.keys(v);
  return Buffer.concat([control(7, keys.length), ...keys.flatMap((k) => [encode(k), encode(v[k]!)])]);
}

/** the network's bits in the IPv6 tree (IPv4 under ::/96) */
function bitsOf(cidr: string): number[] {
  const [addr, len] = cidr.split('/') as [string, string];
  const bits: number[] = [];
  if (net.isIPv4(addr)) {
    for (let i = 0; i < 96; i++) bits.push(0);
    for (const o of addr.split('.').map(Number)) for (let i = 7; i >= 0; i--) bits.push((o >> i) & 1);
    return bits.slice(0, 96 + Number(len));
  }
  const [head, tail] = addr.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t].map((g) => Number.parseInt(g, 16));
  for (const g of groups) for (let i = 15; i >= 0; i--) bits.push((g >> i) & 1);
  return bits.slice(0, Number(len));
}

interface Node {
  child: [Node | number | undefined, Node | number | undefined];
}

/** a MaxMind DB file mapping each network to its record */
export function mmdb(databaseType: string, entries: { network: string; record: Record<string, Value> }[]): Buffer {
  // the data section: each record once
  const data: Buffer[] = [];
  let dataSize = 0;
  const offsets: number[] = [];
  for (const e of entries) {
    offsets.push(dataSize);
    const b = encode(e.record);
    data.push(b);
    dataSize += b.length;
  }
  // the tree: a leaf holds the index of its record (a number), an absent child is "not found"
  const root: Node = { child: [undefined, undefined] };
  entries.forEach((e, i) => {
    const bits = bitsOf(e.network);
    let node = root;
    bits.forEach((bit, depth) => {
      if (depth === bits.length - 1) {
        node.child[bit] = i;
        return;
      }
      let next = node.child[bit];
      if (typeof next === 'number') throw new Error(`${e.network} overlaps another network`);
      if (!next) node.child[bit] = next = { child: [undefined, undefined] };
      node = next;
    });
  });
  const nodes: Node[] = [];
  const numbers = new Map<Node, number>();
  const queue = [root];
  while (queue.length) {
    const n = queue.shift()!;
    numbers.set(n, nodes.length);
    nodes.push(n);
    for (const c of n.child) if (c && typeof c === 'object') queue.push(c);
  }
  const nodeCount = nodes.length;
  const tree = Buffer.alloc(nodeCount * 8);
  nodes.forEach((n, i) => {
    n.child.forEach((c, side) => {
      const record = c === undefined ? nodeCount : typeof c === 'number' ? nodeCount + 16 + offsets[c]! : numbers.get(c)!;
      tree.writeUInt32BE(record, i * 8 + side * 4);
    });
  });
  const metadata = encode({
    node_count: nodeCount,
    record_size: 32,
    ip_version: 6,
    database_type: databaseType,
    languages: ['en'],
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: Math.floor(Date.now() / 1000),
    description: { en: `Keystage test ${databaseType}` },
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...data, Buffer.from([0xab, 0xcd, 0xef]), Buffer.from('MaxMind.com'), metadata]);
}

/** a GeoLite2-City record */
export function cityRecord(p: { continent: string; country: string; city?: string; lat: number; long: number }): Record<string, Value> {
  return {
    continent: { code: p.continent, names: { en: p.continent } },
    country: { iso_code: p.country, names: { en: p.country } },
    ...(p.city ? { city: { names: { en: p.city } } } : {}),
    location: { latitude: p.lat, longitude: p.long, accuracy_radius: 100 },
  };
}

/** a GeoLite2-ASN record */
export function asnRecord(asn: number, org: string): Record<string, Value> {
  return { autonomous_system_number: asn, autonomous_system_organization: org };
}
