/** The certificate fixtures of test/fixtures/mtls/ (a test CA, client and server certificates made with openssl, valid for a century). */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { call, type TestServer } from './server.js';

export const fixture = (name: string) => fs.readFileSync(path.resolve('test/fixtures/mtls', name), 'utf8');

/** imports a certificate without key (an authority) and returns its pk */
export async function importCa(srv: TestServer, name: string, pem: string): Promise<string> {
  const r = await call(srv, 'POST', '/crypto/certificatekeypairs/', { name, certificate_data: pem });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.pk;
}
