/**
 * authentik's file storage (`/admin/file/`): images uploaded through the official client, listed, served to anyone
 * at the URL an image field gives them (images only, nothing in them runs), found by `used_by`, refused when the
 * name, type, size or usage is wrong, deleted — on both databases.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { AdminApi } from '@goauthentik/api/dist/apis/AdminApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../helpers/flows.js';
import { callAs, tokenFor } from '../groups/setup.js';

/** a real 1×1 PNG (signature, IHDR, IDAT, IEND with their CRCs) */
function png(rgb: [number, number, number]): Uint8Array {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(1, 0);
  ihdr.writeUInt32BE(1, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      chunk('IDAT', deflateSync(Buffer.from([0, ...rgb]))),
      chunk('IEND', Buffer.alloc(0)),
    ]),
  );
}

for (const dialect of dialects()) {
  describe(`file storage (${dialect})`, () => {
    let srv: TestServer;
    let admin: AdminApi;
    before(async () => {
      srv = await startServer(dialect);
      admin = new AdminApi(new Configuration({ basePath: srv.api, headers: { authorization: `Bearer ${srv.token}` } }));
    });
    after(async () => {
      await srv?.close();
    });

    const upload = (form: FormData, token = srv.token) =>
      fetch(`${srv.api}/admin/file/`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form }).then(async (r) => ({
        status: r.status,
        body: r.status === 200 ? null : await r.json(),
      }));
    const formOf = (name: string | undefined, bytes: Uint8Array, fileName = 'upload.png', usage?: string) => {
      const f = new FormData();
      f.set('file', new Blob([Buffer.from(bytes)]), fileName);
      if (name !== undefined) f.set('name', name);
      if (usage !== undefined) f.set('usage', usage);
      return f;
    };

    it('an uploaded image is listed, served to anyone as an image that runs nothing, and recorded', async () => {
      const red = png([255, 0, 0]);
      await admin.adminFileCreate({ file: new Blob([Buffer.from(red)]), name: 'logos/acme.png' });
      const list = await admin.adminFileList({});
      assert.deepEqual(
        list.map((f) => [f.name, f.mimeType, f.url, f.themedUrls ?? null]),
        [['logos/acme.png', 'image/png', '/files/media/public/logos/acme.png', null]],
      );
      // without any credentials (a login page shows it)
      const r = await fetch(`${srv.url}${list[0]!.url}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'image/png');
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'none'.*sandbox/);
      assert.deepEqual(new Uint8Array(await r.arrayBuffer()), red);
      // the upload's own file name when none is given
      const blue = png([0, 0, 255]);
      assert.equal((await upload(formOf(undefined, blue, 'blue-icon.png'))).status, 200);
      assert.deepEqual(
        (await admin.adminFileList({ search: 'blue' })).map((f) => f.name),
        ['blue-icon.png'],
      );
      assert.deepEqual(
        (await admin.adminFileList({ search: 'BLUE' })).map((f) => f.name),
        [],
        'authentik compares the term as given with the name in lower case',
      );
      const events = await call(srv, 'GET', '/events/events/?action=model_created&context_model_app=authentik_admin_files');
      assert.deepEqual(
        events.body.results
          .map((e: { context: { model: { name: string; mime_type: string } } }) => [e.context.model.name, e.context.model.mime_type])
          .sort(),
        [
          ['blue-icon.png', 'image/png'],
          ['logos/acme.png', 'image/png'],
        ],
      );
    });

    it('bad uploads are refused with authentik’s messages and store nothing', async () => {
      const before = (await admin.adminFileList({})).length;
      const img = png([0, 255, 0]);
      const cases: [FormData, unknown][] = [
        [formOf('logos/acme.png', img), { name: ['A file with this name already exists.'] }],
        [formOf('../escape.png', img), ["Parent directory references ('..') are not allowed"]],
        [formOf('/abs.png', img), ['Absolute paths are not allowed']],
        [
          formOf('has space.png', img),
          ['File name can only contain letters (a-z, A-Z), numbers (0-9), dots (.), hyphens (-), underscores (_), and forward slashes (/)'],
        ],
        [formOf('.hidden.png', img), ["Paths cannot start with '.'"]],
        [
          formOf('page.html', new TextEncoder().encode('<script>alert(1)</script>')),
          { file: ['Files of type text/html cannot be uploaded as media: images only.'] },
        ],
        [formOf('ok.png', img, 'ok.png', 'reports'), ['Invalid usage parameter provided: reports']],
      ];
      for (const [form, body] of cases) {
        const r = await upload(form);
        assert.deepEqual([r.status, r.body], [400, body]);
      }
      const empty = new FormData();
      empty.set('name', 'x.png');
      assert.deepEqual(await upload(empty), { status: 400, body: { file: ['No file was submitted.'] } });
      assert.equal((await admin.adminFileList({})).length, before);
      // a name that is no stored file, or not a file name at all, is not found
      for (const path of ['/files/media/public/missing.png', '/files/media/public/..%2Fx.png'])
        assert.equal((await fetch(`${srv.url}${path}`)).status, 404);
    });

    it('an image field naming a file shows its URL; used_by lists the objects naming it', async () => {
      const app = await call(srv, 'POST', '/core/applications/', { name: 'Files App', slug: 'files-app', meta_icon: 'logos/acme.png' });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      assert.equal(app.body.meta_icon_url, '/files/media/public/logos/acme.png');
      assert.equal((await fetch(`${srv.url}${app.body.meta_icon_url}`)).status, 200);
      // a brand naming it twice is listed once
      const brand = await call(srv, 'POST', '/core/brands/', {
        domain: 'files.example.com',
        branding_logo: 'logos/acme.png',
        branding_favicon: 'logos/acme.png',
      });
      assert.equal(brand.status, 201, JSON.stringify(brand.body));
      const flow = await call(srv, 'POST', '/flows/instances/', {
        name: 'Files Flow',
        slug: 'files-flow',
        title: 'Files',
        designation: 'authentication',
        background: 'logos/acme.png',
      });
      assert.equal(flow.status, 201, JSON.stringify(flow.body));
      assert.equal(flow.body.background_url, '/files/media/public/logos/acme.png');
      const used = await admin.adminFileUsedByList({ name: 'logos/acme.png' });
      assert.deepEqual(
        used.map((u) => [u.app, u.modelName, u.pk, u.name, u.action]),
        [
          ['authentik_core', 'application', app.body.pk, 'Files App', 'left_dangling'],
          ['authentik_flows', 'flow', flow.body.pk, 'Flow Files Flow (files-flow)', 'left_dangling'],
          ['authentik_brands', 'brand', brand.body.brand_uuid, 'Brand files.example.com', 'left_dangling'],
        ],
      );
      assert.deepEqual(await admin.adminFileUsedByList({ name: 'blue-icon.png' }), []);
    });

    it('delete removes the file (its URL then answers 404) and is recorded', async () => {
      await admin.adminFileDestroy({ name: 'blue-icon.png' });
      assert.deepEqual(
        (await admin.adminFileList({})).map((f) => f.name),
        ['logos/acme.png'],
      );
      assert.equal((await fetch(`${srv.url}/files/media/public/blue-icon.png`)).status, 404);
      const events = await call(srv, 'GET', '/events/events/?action=model_deleted&context_model_app=authentik_admin_files');
      assert.deepEqual(
        events.body.results.map((e: { context: { model: { name: string } } }) => e.context.model.name),
        ['blue-icon.png'],
      );
      const bad = await call(srv, 'DELETE', '/admin/file/?name=../x.png');
      assert.deepEqual([bad.status, bad.body], [400, ["Parent directory references ('..') are not allowed"]]);
    });

    it('listing needs view_media_files, uploading and deleting manage_media_files', async () => {
      const id = await createUser(srv, 'files-viewer', 'user-password-1');
      const token = await tokenFor(srv, id, 'files-viewer-key-0123456789abcdefghij');
      assert.equal((await callAs(srv, token, 'GET', '/admin/file/')).status, 403);
      assert.equal((await upload(formOf('denied.png', png([1, 2, 3])), token)).status, 403);
      const role = await call(srv, 'POST', '/rbac/roles/', { name: 'file viewers' });
      assert.equal(role.status, 201, JSON.stringify(role.body));
      assert.equal((await call(srv, 'POST', `/rbac/roles/${role.body.pk}/add_user/`, { pk: id })).status, 204);
      const granted = await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${role.body.pk}/assign/`, {
        permissions: ['authentik_rbac.view_media_files'],
      });
      assert.equal(granted.status, 200, JSON.stringify(granted.body));
      const seen = await callAs(srv, token, 'GET', '/admin/file/');
      assert.deepEqual([seen.status, seen.body.map((f: { name: string }) => f.name)], [200, ['logos/acme.png']]);
      assert.equal((await upload(formOf('denied.png', png([1, 2, 3])), token)).status, 403);
      assert.equal((await callAs(srv, token, 'DELETE', '/admin/file/?name=logos/acme.png')).status, 403);
      assert.equal((await fetch(`${srv.url}/files/media/public/denied.png`)).status, 404);
    });
  });
}
