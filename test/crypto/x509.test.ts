/**
 * Self-signed certificates carry their serial number in minimal DER: a random serial whose first byte is zero (one
 * UUID in 256) used to be written with that needless zero, and OpenSSL refused the certificate.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { buildSelfSigned, loadCertificate, minimalPositiveInteger } from '../../src/crypto/x509.js';

const numberOf = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);

describe('certificate serial numbers', () => {
  it('minimalPositiveInteger keeps the value, drops needless leading zeros and keeps the number positive', () => {
    assert.deepEqual([...minimalPositiveInteger(Uint8Array.of(0, 0x12, 0x34))], [0x12, 0x34]);
    assert.deepEqual([...minimalPositiveInteger(Uint8Array.of(0, 0, 0x80))], [0, 0x80]);
    assert.deepEqual([...minimalPositiveInteger(Uint8Array.of(0x80, 1))], [0, 0x80, 1]);
    assert.deepEqual([...minimalPositiveInteger(Uint8Array.of(0, 0))], [0]);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 20 }), (bytes) => {
        const out = minimalPositiveInteger(bytes);
        assert.equal(numberOf(out), numberOf(bytes));
        assert.ok(out[0]! < 0x80, 'positive');
        if (out.length > 1) assert.ok(out[0] !== 0 || out[1]! >= 0x80, 'minimal');
      }),
    );
  });

  for (const serial of ['00' + '7f'.repeat(15), '0000' + 'ab'.repeat(14), '80' + '00'.repeat(15), '01']) {
    it(`a certificate with serial ${serial} loads and reports it`, async () => {
      const pair = await buildSelfSigned({ commonName: 'serial.example', alg: 'ed25519', serial: Buffer.from(serial, 'hex') });
      assert.ok(loadCertificate(pair.certificate), 'loadCertificate reads it');
      const cert = new X509Certificate(pair.certificate);
      assert.equal(BigInt(`0x${cert.serialNumber}`), numberOf(Buffer.from(serial, 'hex')));
    });
  }
});
