/**
 * Directory entries as authentik's synchronisers see them: every attribute as text (a single value as itself, several
 * as a list), Active Directory's binary `objectSid` and `objectGUID` in the forms ldap3 formats them (`S-1-5-…`,
 * `{…}` in Microsoft's byte order), searched in pages from the source's user or group base.
 */
import type { Client, Entry } from 'ldapts';
import { textOf } from './connect.js';

export interface DirEntry {
  dn: string;
  attributes: Record<string, string | string[]>;
}

const BINARY = ['objectSid', 'objectGUID'];

/** a binary SID as text (MS-DTYP 2.4.2.2) */
export function sidToString(b: Buffer): string {
  if (b.length < 8) return b.toString('hex');
  const count = b[1]!;
  const authority = b.readUIntBE(2, 6);
  const subs: number[] = [];
  for (let i = 0; i < count && 8 + i * 4 + 4 <= b.length; i++) subs.push(b.readUInt32LE(8 + i * 4));
  return `S-${b[0]}-${authority}${subs.map((s) => `-${s}`).join('')}`;
}

/** a binary GUID as text, the first three groups little-endian */
export function guidToString(b: Buffer): string {
  if (b.length !== 16) return b.toString('hex');
  const h = (x: Buffer) => x.toString('hex');
  const rev = (s: number, e: number) => Buffer.from(b.subarray(s, e)).reverse();
  return `{${h(rev(0, 4))}-${h(rev(4, 6))}-${h(rev(6, 8))}-${h(b.subarray(8, 10))}-${h(b.subarray(10, 16))}}`;
}

function toDirEntry(e: Entry): DirEntry {
  const attributes: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k === 'dn') continue;
    const binary = BINARY.find((b) => b.toLowerCase() === k.toLowerCase());
    if (binary) {
      const conv = binary === 'objectSid' ? sidToString : guidToString;
      const bufs = (Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x : Buffer.from(String(x), 'latin1')));
      const texts = bufs.map(conv);
      attributes[k] = texts.length === 1 ? texts[0]! : texts;
    } else attributes[k] = textOf(v as string | Buffer | (string | Buffer)[]);
  }
  return { dn: e.dn, attributes };
}

/** every entry under `base` matching `filter`, in pages of 500 (ldap3's paged_search) */
export async function searchAll(client: Client, base: string, filter: string, attributes = ['*', '+']): Promise<DirEntry[]> {
  const { searchEntries } = await client.search(base, {
    scope: 'sub',
    filter,
    attributes,
    paged: { pageSize: 500 },
    explicitBufferAttributes: BINARY,
  });
  return searchEntries.map(toDirEntry);
}

/** an attribute of an entry, its name case-insensitive */
export function attr(e: DirEntry, name: string): string | string[] | undefined {
  const direct = e.attributes[name];
  if (direct !== undefined) return direct;
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(e.attributes)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** the values of an attribute as a list */
export const values = (e: DirEntry, name: string): string[] => {
  const v = attr(e, name);
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
};

/** `additional` prepended to the base DN (authentik's base_dn_users / base_dn_groups) */
export const underBase = (additional: string, base: string) => (additional ? `${additional},${base}` : base);
