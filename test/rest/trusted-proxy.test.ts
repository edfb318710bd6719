/** Which peers count as trusted proxies (src/rest/trusted-proxy.ts): Fastify's `trustProxy` string syntax. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isTrustedProxy } from '../../src/rest/trusted-proxy.js';

describe('trusted proxies', () => {
  it('addresses, CIDR ranges and the named ranges; IPv4-mapped IPv6 as IPv4; nothing trusted when unset', () => {
    const cases: [string | undefined, string | undefined, boolean][] = [
      [undefined, '127.0.0.1', false],
      ['', '127.0.0.1', false],
      ['127.0.0.1', '127.0.0.1', true],
      ['127.0.0.1', '127.0.0.2', false],
      ['127.0.0.1', '::ffff:127.0.0.1', true],
      ['10.0.0.0/8, 192.168.1.7', '10.200.3.4', true],
      ['10.0.0.0/8, 192.168.1.7', '192.168.1.7', true],
      ['10.0.0.0/8, 192.168.1.7', '192.168.1.8', false],
      ['10.0.0.0/8', '11.0.0.1', false],
      ['loopback', '::1', true],
      ['loopback', '127.9.9.9', true],
      ['loopback', '10.0.0.1', false],
      ['uniquelocal', '172.16.5.5', true],
      ['uniquelocal', '172.32.0.1', false],
      ['uniquelocal', 'fd00::1', true],
      ['linklocal', '169.254.1.1', true],
      ['fd00::/8', 'fd12::1', true],
      ['fd00::/8', 'fe80::1', false],
      ['127.0.0.1', undefined, false],
      ['not-an-address', '127.0.0.1', false],
    ];
    for (const [setting, address, expected] of cases) assert.equal(isTrustedProxy(setting, address), expected, `${setting} ∋ ${address}`);
  });
});
