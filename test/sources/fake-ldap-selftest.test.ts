/**
 * The fake LDAP directory (test/helpers/fake-ldap.ts) as ldapts sees it: binds, searches (scopes, filters, paging,
 * attribute selection), the root DSE of both flavours, password changes by the RFC 3062 extended operation and by
 * AD's unicodePwd, and ldaps://. Everything stays on 127.0.0.1; each test closes its server.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Attribute,
  BerWriter,
  Change,
  Client,
  InsufficientAccessError,
  InvalidCredentialsError,
  NoSuchObjectError,
  type ClientOptions,
} from 'ldapts';
import { FakeLdap, type FakeLdapOptions } from '../helpers/fake-ldap.js';
import { fixture } from '../helpers/certificates.js';

const SERVICE = 'cn=keystage,dc=example,dc=org';
const BASE = 'dc=example,dc=org';
const ALICE = 'uid=alice,ou=users,dc=example,dc=org';
const BOB = 'uid=bob,ou=users,dc=example,dc=org';

async function withDirectory(
  opts: FakeLdapOptions,
  fn: (fake: FakeLdap, connect: (o?: Partial<ClientOptions>) => Client) => Promise<void>,
) {
  const fake = await new FakeLdap({ bindDn: SERVICE, bindPassword: 'service-secret', ...opts }).start();
  fake.add(ALICE, {
    objectClass: ['top', 'person', 'inetOrgPerson'],
    uid: 'alice',
    cn: 'Alice Liddell',
    mail: 'alice@example.org',
    userPassword: 'alice-pw',
  });
  fake.add(BOB, { objectClass: ['top', 'person', 'inetOrgPerson'], uid: 'bob', cn: 'Bob', userPassword: 'bob-pw' });
  fake.add('cn=admins,ou=groups,dc=example,dc=org', { objectClass: ['top', 'groupOfNames'], cn: 'admins', member: [ALICE, BOB] });
  const clients: Client[] = [];
  const connect = (o: Partial<ClientOptions> = {}) => {
    const c = new Client({ url: fake.url, timeout: 5000, connectTimeout: 5000, ...o });
    clients.push(c);
    return c;
  };
  try {
    await fn(fake, connect);
  } finally {
    for (const c of clients) await c.unbind().catch(() => {});
    await fake.close();
  }
}

/** RFC 3062 PasswdModifyRequestValue */
function passwordModifyValue(userIdentity: string | undefined, oldPassword: string | undefined, newPassword: string): Buffer {
  const w = new BerWriter();
  w.startSequence();
  if (userIdentity !== undefined) w.writeString(userIdentity, 0x80);
  if (oldPassword !== undefined) w.writeString(oldPassword, 0x81);
  w.writeString(newPassword, 0x82);
  w.endSequence();
  return w.buffer;
}

const canBind = async (connect: () => Client, dn: string, password: string) => {
  const c = connect();
  try {
    await c.bind(dn, password);
    return true;
  } catch (e) {
    if (e instanceof InvalidCredentialsError) return false;
    throw e;
  } finally {
    await c.unbind().catch(() => {});
  }
};

describe('fake LDAP directory', () => {
  it('serves the service account a subtree search, without passwords', async () => {
    await withDirectory({}, async (fake, connect) => {
      assert.match(fake.url, /^ldap:\/\/127\.0\.0\.1:\d+$/);
      const c = connect();
      await c.bind(SERVICE, 'service-secret');
      const { searchEntries } = await c.search(BASE, { scope: 'sub', filter: '(objectClass=person)' });
      assert.deepEqual(searchEntries.map((e) => e.dn).sort(), [ALICE, BOB]);
      const alice = searchEntries.find((e) => e.dn === ALICE)!;
      assert.equal(alice.mail, 'alice@example.org');
      assert.equal(alice.userPassword, undefined);
      // filters: attribute names without case, values with (objectClass aside); DN-valued attributes as stored
      const byMember = await c.search(BASE, { filter: `(&(OBJECTCLASS=GroupOfNames)(member=${BOB}))`, attributes: ['CN', 'Member'] });
      assert.deepEqual(byMember.searchEntries, [{ dn: 'cn=admins,ou=groups,dc=example,dc=org', cn: 'admins', member: [ALICE, BOB] }]);
      assert.equal((await c.search(BASE, { filter: '(uid=ALICE)' })).searchEntries.length, 0);
      // scopes
      assert.deepEqual((await c.search('ou=users,dc=example,dc=org', { scope: 'one' })).searchEntries.map((e) => e.dn).sort(), [
        ALICE,
        BOB,
      ]);
      assert.deepEqual(
        (await c.search('UID=Alice, OU=Users,DC=Example,DC=Org', { scope: 'base' })).searchEntries.map((e) => e.dn),
        [ALICE],
      );
      assert.equal((await c.search(BASE, { scope: 'one' })).searchEntries.length, 0);
      await assert.rejects(c.search('ou=nowhere,dc=example,dc=org', {}), NoSuchObjectError);
      fake.remove(BOB);
      assert.deepEqual(
        (await c.search(BASE, { filter: '(uid=*)' })).searchEntries.map((e) => e.dn),
        [ALICE],
      );
    });
  });

  it('binds users by userPassword and rejects wrong passwords and unbound operations', async () => {
    await withDirectory({}, async (fake, connect) => {
      assert.equal(await canBind(connect, ALICE, 'alice-pw'), true);
      assert.equal(await canBind(connect, ALICE, 'wrong'), false);
      assert.equal(await canBind(connect, 'uid=nobody,ou=users,dc=example,dc=org', 'alice-pw'), false);
      assert.equal(await canBind(connect, SERVICE, 'wrong'), false);
      assert.deepEqual(fake.binds, [
        { dn: ALICE, ok: true },
        { dn: ALICE, ok: false },
        { dn: 'uid=nobody,ou=users,dc=example,dc=org', ok: false },
        { dn: SERVICE, ok: false },
      ]);
      const c = connect();
      await assert.rejects(c.search(BASE, { filter: '(uid=alice)' }), InsufficientAccessError);
      await assert.rejects(c.bind(ALICE, 'wrong'), InvalidCredentialsError);
      await assert.rejects(c.search(BASE, { filter: '(uid=alice)' }), InsufficientAccessError);
      // a user may read, and write itself only
      await c.bind(BOB, 'bob-pw');
      assert.equal((await c.search(BASE, { filter: '(uid=alice)' })).searchEntries.length, 1);
      await c.modify(BOB, new Change({ operation: 'replace', modification: new Attribute({ type: 'mail', values: ['bob@example.org'] }) }));
      await assert.rejects(
        c.modify(ALICE, new Change({ operation: 'replace', modification: new Attribute({ type: 'mail', values: ['x@example.org'] }) })),
        InsufficientAccessError,
      );
      assert.equal(fake.entries().get(BOB)?.mail, 'bob@example.org');
      assert.equal((await c.search(BASE, { filter: '(userPassword=*)' })).searchEntries.length, 0);
      // an anonymous rebind drops the user's rights
      await c.bind('', '');
      await assert.rejects(c.search(BASE, { filter: '(uid=alice)' }), InsufficientAccessError);
    });
  });

  it('answers the root DSE anonymously, per flavour', async () => {
    await withDirectory({}, async (_fake, connect) => {
      const { searchEntries } = await connect().search('', { scope: 'base', attributes: ['+'] });
      const dse = searchEntries[0]!;
      assert.equal(dse.vendorName, 'OpenLDAP');
      assert.equal(dse.vendorVersion, '2.6.0');
      assert.equal(dse.namingContexts, BASE);
      assert.equal(dse.supportedExtension, '1.3.6.1.4.1.4203.1.11.1');
    });
    await withDirectory({ flavour: 'ad' }, async (_fake, connect) => {
      const { searchEntries } = await connect().search('', { scope: 'base', attributes: ['supportedCapabilities', 'vendorName'] });
      const dse = searchEntries[0]!;
      assert.deepEqual(dse.vendorName, []); // (ldapts: a requested attribute the entry lacks)
      assert.ok(([] as unknown[]).concat(dse.supportedCapabilities).includes('1.2.840.113556.1.4.800'));
    });
  });

  it('changes passwords with the Password Modify extended operation (openldap)', async () => {
    await withDirectory({}, async (fake, connect) => {
      const c = connect();
      await c.bind(SERVICE, 'service-secret');
      await c.exop('1.3.6.1.4.1.4203.1.11.1', passwordModifyValue(ALICE, undefined, 'alice-new'));
      assert.equal(await canBind(connect, ALICE, 'alice-new'), true);
      assert.equal(await canBind(connect, ALICE, 'alice-pw'), false);
      // a user's own change, with the old password checked
      const own = connect();
      await own.bind(BOB, 'bob-pw');
      await assert.rejects(own.exop('1.3.6.1.4.1.4203.1.11.1', passwordModifyValue(undefined, 'wrong', 'bob-new')));
      await own.exop('1.3.6.1.4.1.4203.1.11.1', passwordModifyValue(undefined, 'bob-pw', 'bob-new'));
      assert.equal(await canBind(connect, BOB, 'bob-new'), true);
      assert.deepEqual(fake.passwordChanges, [
        { dn: ALICE, password: 'alice-new', via: 'exop' },
        { dn: BOB, password: 'bob-new', via: 'exop' },
      ]);
      // userPassword by modify
      await c.modify(
        ALICE,
        new Change({ operation: 'replace', modification: new Attribute({ type: 'userPassword', values: ['alice-3'] }) }),
      );
      assert.equal(await canBind(connect, ALICE, 'alice-3'), true);
      assert.deepEqual(fake.passwordChanges.at(-1), { dn: ALICE, password: 'alice-3', via: 'userPassword' });
    });
  });

  it("changes passwords by AD's unicodePwd", async () => {
    await withDirectory({ flavour: 'ad' }, async (fake, connect) => {
      const c = connect();
      await c.bind(SERVICE, 'service-secret');
      await assert.rejects(c.exop('1.3.6.1.4.1.4203.1.11.1', passwordModifyValue(ALICE, undefined, 'x')));
      const unicodePwd = (p: string) => Buffer.from(`"${p}"`, 'utf16le');
      await c.modify(
        ALICE,
        new Change({ operation: 'replace', modification: new Attribute({ type: 'unicodePwd', values: [unicodePwd('Ålice-new')] }) }),
      );
      assert.deepEqual(fake.passwordChanges, [{ dn: ALICE, password: 'Ålice-new', via: 'unicodePwd' }]);
      assert.equal(await canBind(connect, ALICE, 'Ålice-new'), true);
      assert.equal(await canBind(connect, ALICE, 'alice-pw'), false);
      assert.equal((await c.search(ALICE, { scope: 'base' })).searchEntries[0]?.unicodePwd, undefined);
    });
  });

  it('serves the Simple Paged Results control', async () => {
    await withDirectory({}, async (fake, connect) => {
      for (let i = 0; i < 5; i++) fake.add(`uid=user${i},ou=users,dc=example,dc=org`, { objectClass: 'person', uid: `user${i}` });
      const c = connect();
      await c.bind(SERVICE, 'service-secret');
      const all = await c.search(BASE, { filter: '(objectClass=person)', paged: { pageSize: 2 } });
      assert.equal(all.searchEntries.length, 7);
      assert.equal(new Set(all.searchEntries.map((e) => e.dn)).size, 7);
      const pages: number[] = [];
      for await (const page of c.searchPaginated(BASE, { filter: '(objectClass=person)', paged: { pageSize: 3 } }))
        pages.push(page.searchEntries.length);
      assert.deepEqual(pages, [3, 3, 1]);
    });
  });

  it('closes with clients still connected', async () => {
    await withDirectory({}, async (fake, connect) => {
      const c = connect();
      await c.bind(SERVICE, 'service-secret');
      await fake.close();
      await assert.rejects(c.search(BASE, { filter: '(uid=alice)' }));
    });
  });

  it('serves ldaps://', async () => {
    await withDirectory({ tls: { cert: fixture('web.pem'), key: fixture('web.key') } }, async (_fake, connect) => {
      const c = connect({ tlsOptions: { ca: fixture('ca.pem'), servername: 'login.example.test' } });
      await c.bind(SERVICE, 'service-secret');
      assert.equal((await c.search(BASE, { filter: '(uid=alice)' })).searchEntries[0]?.dn, ALICE);
    });
  });
});
