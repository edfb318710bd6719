/**
 * A small LDAP directory on 127.0.0.1 standing in for OpenLDAP or Active Directory, built on ldapjs's server.
 *
 * - Simple bind as the service account or as any entry whose `userPassword` holds the password (plain text); else
 *   invalidCredentials (49). Anonymous connections may read the root DSE only; everything else needs a successful
 *   bind on that connection (insufficientAccessRights, 50). Every non-anonymous bind is recorded in `binds`.
 * - Search: scopes base/one/sub, DNs compared case-insensitively (ldapjs's DN.equals is case-sensitive, so DNs are
 *   normalised here). A base that is stored, or is an ancestor of a stored entry (implicit containers), exists; else
 *   noSuchObject (32). Filters use ldapjs's matcher with attribute names case-insensitive, but values compared
 *   case-sensitively (only objectClass is compared without case). Passwords are never sent nor matched.
 *   The Simple Paged Results control (1.2.840.113556.1.4.319) is served; the cookie is the next offset.
 * - Modify: add/delete/replace; `userPassword` (and `unicodePwd`, quoted UTF-16LE, on the 'ad' flavour) set the
 *   password and are recorded in `passwordChanges`. The service account may write any entry, a user only itself.
 * - Password Modify extended operation (RFC 3062) on the 'openldap' flavour (ldapjs decodes its BER value).
 */
import type net from 'node:net';
import ldap from 'ldapjs';

export type LdapAttrs = Record<string, string | string[]>;
export interface FakeLdapOptions {
  /** the service account Keystage binds as */
  bindDn?: string;
  bindPassword?: string;
  /** 'openldap' (default) or 'ad': what the root DSE says, which password operations are served */
  flavour?: 'openldap' | 'ad';
  /** PEM certificate + key: serve ldaps:// (TLS from the first byte) instead of ldap:// */
  tls?: { cert: string; key: string };
}

const PASSWORD_MODIFY = '1.3.6.1.4.1.4203.1.11.1';
const PAGED = '1.2.840.113556.1.4.319';
const HIDDEN = new Set(['userpassword', 'unicodepwd']);

/** the parts of ldapjs v3's request/response objects used here (@types/ldapjs describes v2) */
type Next = (err?: unknown) => void;
type Conn = object & { ldap: { bindDN: unknown } };
interface Req {
  connection: Conn;
  /** bind */
  dn: unknown;
  credentials: string;
  /** search */
  baseObject: unknown;
  scopeName: 'base' | 'single' | 'subtree';
  filter: { matches(obj: object, strictAttrCase?: boolean): boolean };
  attributes: string[];
  controls: { type: string; value?: { size: number; cookie: Buffer } }[];
  /** modify */
  object: unknown;
  changes: { operation: 'add' | 'delete' | 'replace'; modification: { type: string; values: string[]; buffers: Buffer[] } }[];
  /** extended operation: ldapjs decodes Password Modify's BER value */
  requestValue?: { userIdentity?: string; oldPassword?: string; newPassword?: string };
}
interface Res {
  end(status?: number): void;
  send(entry: { dn: string; attributes: LdapAttrs }): void;
  attributes: string[];
  addControl(control: unknown): void;
}
type Ber = { readSequence(): number; readString(): string; offset: number; length: number };
const { PagedResultsControl, ModifyRequest, Change } = ldap as unknown as {
  PagedResultsControl: new (o: { value: { size: number; cookie: Buffer } }) => unknown;
  ModifyRequest: { parseToPojo(ber: Ber): object };
  Change: { fromBer(ber: Ber): object };
};
// ldapjs v3 keeps a modify request's changes as their pojo, whose values are decoded as UTF-8: binary values such as
// AD's unicodePwd (UTF-16LE) lose bytes. Keep the parsed Change objects (with their buffers) instead, process-wide.
ModifyRequest.parseToPojo = (ber) => {
  const protocolOp = ber.readSequence();
  if (protocolOp !== 0x66) throw Error(`found wrong protocol operation: 0x${protocolOp.toString(16)}`);
  const object = ber.readString();
  const changes: object[] = [];
  ber.readSequence();
  for (const end = ber.offset + ber.length; ber.offset < end; ) changes.push(Change.fromBer(ber));
  return { protocolOp, object, changes };
};

/** lower-cased, no spaces after commas, special characters hex-escaped (ldapjs's DN formatting) */
const norm = (dn: unknown) => ldap.parseDN(String(dn)).toString().toLowerCase();
const keyOf = (attrs: LdapAttrs, name: string) => Object.keys(attrs).find((k) => k.toLowerCase() === name.toLowerCase());
const valuesOf = (attrs: LdapAttrs, name: string): string[] => {
  const k = keyOf(attrs, name);
  return k === undefined ? [] : ([] as string[]).concat(attrs[k]!);
};
const withoutPasswords = (attrs: LdapAttrs) => Object.fromEntries(Object.entries(attrs).filter(([k]) => !HIDDEN.has(k.toLowerCase())));
/** AD's unicodePwd: the password in double quotes, UTF-16LE */
const decodeUnicodePwd = (b: Buffer) => b.toString('utf16le').replace(/^"(.*)"$/s, '$1');

export class FakeLdap {
  url = '';
  readonly binds: { dn: string; ok: boolean }[] = [];
  readonly passwordChanges: { dn: string; password: string; via: 'exop' | 'unicodePwd' | 'userPassword' }[] = [];
  private readonly store = new Map<string, { dn: string; attrs: LdapAttrs }>();
  /** connection → normalised DN it bound as */
  private readonly sessions = new WeakMap<object, string>();
  private readonly sockets = new Set<net.Socket>();
  private readonly server: ldap.Server;
  private readonly flavour: 'openldap' | 'ad';

  constructor(private readonly opts: FakeLdapOptions = {}) {
    this.flavour = opts.flavour ?? 'openldap';
    this.server = ldap.createServer(opts.tls ? { certificate: opts.tls.cert, key: opts.tls.key } : {});
    // (parser errors are answered with protocolError by ldapjs; without a listener the emit would throw)
    this.server.on('error', () => {});
    (this.server as unknown as { server: net.Server }).server.on('connection', (s: net.Socket) => {
      this.sockets.add(s);
      s.setNoDelay(true); // ldapjs writes each entry on its own: without this, Nagle + delayed ACKs cost ~40 ms a search
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.bind('', (req: Req, res: Res, next: Next) => this.bind(req, res, next));
    this.server.search('', (req: Req, res: Res, next: Next) => this.search(req, res, next));
    this.server.modify('', (req: Req, res: Res, next: Next) => this.modify(req, res, next));
    if (this.flavour === 'openldap') this.server.exop(PASSWORD_MODIFY, (req: Req, res: Res, next: Next) => this.exop(req, res, next));
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = this.server.url;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  add(dn: string, attrs: LdapAttrs): void {
    this.store.set(norm(dn), { dn, attrs: { ...attrs } });
  }

  remove(dn: string): void {
    this.store.delete(norm(dn));
  }

  /** original DN → the live attributes (including passwords) */
  entries(): Map<string, LdapAttrs> {
    return new Map([...this.store.values()].map((e) => [e.dn, e.attrs]));
  }

  /** the normalised DN this connection is bound as; an anonymous rebind (answered by ldapjs itself) unbinds */
  private boundAs(req: Req): string | undefined {
    const dn = this.sessions.get(req.connection);
    return dn !== undefined && norm(req.connection.ldap.bindDN) === dn ? dn : undefined;
  }

  private mayWrite(who: string, target: string) {
    return who === target || (this.opts.bindDn !== undefined && who === norm(this.opts.bindDn));
  }

  private bind(req: Req, res: Res, next: Next) {
    const dn = String(req.dn);
    const n = norm(dn);
    this.sessions.delete(req.connection);
    const service = this.opts.bindDn !== undefined && n === norm(this.opts.bindDn) && req.credentials === this.opts.bindPassword;
    const entry = this.store.get(n);
    const ok = service || (!!entry && req.credentials !== '' && valuesOf(entry.attrs, 'userPassword').includes(req.credentials));
    this.binds.push({ dn, ok });
    if (!ok) return next(new ldap.InvalidCredentialsError());
    this.sessions.set(req.connection, n);
    res.end();
    return next();
  }

  private rootDse(): LdapAttrs {
    // the dc= suffixes of the stored entries
    const contexts = new Set([...this.store.keys()].flatMap((k) => /(?:^|,)(dc=.*)$/.exec(k)?.[1] ?? []));
    const common = { objectClass: 'top', namingContexts: [...contexts], supportedControl: PAGED, supportedLDAPVersion: '3' };
    return this.flavour === 'ad'
      ? {
          ...common,
          defaultNamingContext: [...contexts][0] ?? '',
          rootDomainNamingContext: [...contexts][0] ?? '',
          supportedCapabilities: ['1.2.840.113556.1.4.800', '1.2.840.113556.1.4.1670', '1.2.840.113556.1.4.1791'],
        }
      : { ...common, vendorName: 'OpenLDAP', vendorVersion: '2.6.0', supportedExtension: PASSWORD_MODIFY };
  }

  private search(req: Req, res: Res, next: Next) {
    const base = norm(req.baseObject);
    const want = req.attributes.map((a) => a.toLowerCase());
    // ldapjs's own attribute selection compares lower-cased names with the request's as sent: do it here instead
    res.attributes = [];
    const pick = (attrs: LdapAttrs, operational = false): LdapAttrs => {
      const all = want.length === 0 || want.includes('*') || (operational && want.includes('+'));
      return Object.fromEntries(Object.entries(withoutPasswords(attrs)).filter(([k]) => all || want.includes(k.toLowerCase())));
    };
    if (base === '' && req.scopeName === 'base') {
      const dse = this.rootDse();
      if (req.filter.matches(dse, false)) res.send({ dn: '', attributes: pick(dse, true) });
      res.end();
      return next();
    }
    if (!this.boundAs(req)) return next(new ldap.InsufficientAccessRightsError());
    const below = (n: string) => base === '' || n.endsWith(`,${base}`);
    if (base !== '' && !this.store.has(base) && ![...this.store.keys()].some(below))
      return next(new ldap.NoSuchObjectError(String(req.baseObject)));
    const parent = (n: string) => norm(ldap.parseDN(n).parent() ?? '');
    const inScope = (n: string) =>
      n === base ? req.scopeName !== 'single' : req.scopeName === 'subtree' ? below(n) : req.scopeName === 'single' && parent(n) === base;
    let hits = [...this.store].filter(([n, e]) => inScope(n) && req.filter.matches(withoutPasswords(e.attrs), false)).map(([, e]) => e);
    const paged = req.controls.find((c) => c.type === PAGED)?.value;
    if (paged) {
      const start = Number(paged.cookie.toString() || '0');
      const end = start + paged.size; // size 0: the client abandons the search
      const more = paged.size > 0 && end < hits.length;
      res.addControl(new PagedResultsControl({ value: { size: hits.length, cookie: Buffer.from(more ? String(end) : '') } }));
      hits = hits.slice(start, end);
    }
    for (const e of hits) res.send({ dn: e.dn, attributes: pick(e.attrs) });
    res.end();
    return next();
  }

  private setPassword(dn: string, attrs: LdapAttrs, password: string, via: 'exop' | 'unicodePwd' | 'userPassword') {
    attrs[keyOf(attrs, 'userPassword') ?? 'userPassword'] = password;
    this.passwordChanges.push({ dn, password, via });
  }

  private modify(req: Req, res: Res, next: Next) {
    const who = this.boundAs(req);
    if (!who) return next(new ldap.InsufficientAccessRightsError());
    const target = norm(req.object);
    const entry = this.store.get(target);
    if (!entry) return next(new ldap.NoSuchObjectError(String(req.object)));
    if (!this.mayWrite(who, target)) return next(new ldap.InsufficientAccessRightsError());
    // applied to a copy, committed when every change is valid
    const attrs: LdapAttrs = structuredClone(entry.attrs);
    const passwords: { password: string; via: 'unicodePwd' | 'userPassword' }[] = [];
    for (const { operation, modification: mod } of req.changes) {
      const lower = mod.type.toLowerCase();
      if (lower === 'unicodepwd' && this.flavour !== 'ad') return next(new ldap.UndefinedAttributeTypeError(mod.type));
      if (HIDDEN.has(lower)) {
        const via = lower === 'unicodepwd' ? 'unicodePwd' : 'userPassword';
        const values = via === 'unicodePwd' ? mod.buffers.map(decodeUnicodePwd) : mod.values;
        // AD's own change: delete the old value (checked) then add the new one
        if (operation === 'delete') {
          if (values.length > 0 && !values.some((v) => valuesOf(attrs, 'userPassword').includes(v)))
            return next(new ldap.ConstraintViolationError());
        } else if (values[0] !== undefined) passwords.push({ password: values[0], via });
        continue;
      }
      const key = keyOf(attrs, mod.type) ?? mod.type;
      const current = valuesOf(attrs, mod.type);
      let updated = operation === 'add' ? [...current, ...mod.values] : mod.values;
      if (operation === 'delete') updated = mod.values.length === 0 ? [] : current.filter((v) => !mod.values.includes(v));
      if (updated.length === 0) delete attrs[key];
      else attrs[key] = updated.length === 1 ? updated[0]! : updated;
    }
    for (const p of passwords) this.setPassword(entry.dn, attrs, p.password, p.via);
    entry.attrs = attrs;
    res.end();
    return next();
  }

  private exop(req: Req, res: Res, next: Next) {
    const who = this.boundAs(req);
    if (!who) return next(new ldap.InsufficientAccessRightsError());
    const { userIdentity, oldPassword, newPassword } = req.requestValue ?? {};
    const target = userIdentity ? norm(userIdentity.replace(/^dn:/i, '')) : who;
    const entry = this.store.get(target);
    if (!entry) return next(new ldap.NoSuchObjectError(userIdentity ?? who));
    if (!this.mayWrite(who, target)) return next(new ldap.InsufficientAccessRightsError());
    if (oldPassword !== undefined && !valuesOf(entry.attrs, 'userPassword').includes(oldPassword))
      return next(new ldap.UnwillingToPerformError('unwilling to verify old password'));
    if (!newPassword) return next(new ldap.UnwillingToPerformError('password generation is not supported'));
    this.setPassword(entry.dn, entry.attrs, newPassword, 'exop');
    res.end();
    return next();
  }
}
