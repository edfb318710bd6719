/** 10,000 identification stages: paging walks every row once in a stable order; filters, search and ordering agree with the data. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';

const N = 10_000;

for (const dialect of dialects()) {
  describe(`10,000 identification stages (${dialect})`, () => {
    let srv: TestServer;
    let passwordStage: string;
    before(async () => {
      srv = await startServer(dialect);
      passwordStage = (await call(srv, 'POST', '/stages/password/', { name: 'list-pw', backends: ['authentik.core.auth.InbuiltBackend'] }))
        .body.pk;
      const stages: { stage_uuid: string; name: string; kind: string }[] = [];
      const idents: Record<string, unknown>[] = [];
      for (let i = 0; i < N; i++) {
        const id = randomUUID();
        stages.push({
          stage_uuid: id,
          name: `bulk-${String(i).padStart(5, '0')}${i % 7 === 0 ? '-seven' : ''}`,
          kind: 'identificationstage',
        });
        idents.push({
          stage_uuid: id,
          user_fields: '["username"]',
          password_stage: i % 10 === 0 ? passwordStage : null,
          captcha_stage: null,
          case_insensitive_matching: i % 2,
          show_matched_user: i % 3 === 0 ? 0 : 1,
          enrollment_flow: null,
          recovery_flow: null,
          passwordless_flow: null,
          sources: '[]',
          show_source_labels: 0,
          pretend_user_exists: 1,
          enable_remember_me: 0,
          webauthn_stage: null,
        });
      }
      await srv.app.store.db.transaction().execute(async (tx) => {
        for (let i = 0; i < N; i += 500) {
          await tx
            .insertInto('stages')
            .values(stages.slice(i, i + 500))
            .execute();
          await tx
            .insertInto('stage_identification' as 'stages')
            .values(idents.slice(i, i + 500) as never)
            .execute();
        }
      });
    });
    after(async () => srv.close());

    it('page_size 100 walks all 10,000 exactly once, in name order', async () => {
      const seen: string[] = [];
      let page = 1;
      for (;;) {
        const r = await call(srv, 'GET', `/stages/identification/?page_size=100&page=${page}&search=bulk-`);
        assert.equal(r.status, 200);
        assert.equal(r.body.pagination.count, N);
        assert.equal(r.body.pagination.total_pages, 100);
        seen.push(...r.body.results.map((s: { name: string }) => s.name));
        if (!r.body.pagination.next) break;
        page = r.body.pagination.next;
      }
      assert.equal(seen.length, N);
      assert.equal(new Set(seen).size, N);
      assert.deepEqual(seen, [...seen].sort());
    });

    it('filters, search and ordering agree with counts computed from the data', async () => {
      const q = async (qs: string) => (await call(srv, 'GET', `/stages/identification/?${qs}`)).body;
      assert.equal((await q(`password_stage=${passwordStage}&page_size=1`)).pagination.count, N / 10);
      assert.equal((await q('case_insensitive_matching=true&page_size=1&search=bulk')).pagination.count, N / 2);
      assert.equal((await q('show_matched_user=false&page_size=1&search=bulk')).pagination.count, Math.ceil(N / 3));
      assert.equal((await q('search=SEVEN&page_size=1')).pagination.count, Math.ceil(N / 7));
      // every term must match: 'seven' and '0000' → bulk-00000-seven and bulk-00007-seven
      assert.equal((await q('search=bulk seven 0000&page_size=5')).pagination.count, 2);
      const desc = await q('search=bulk&ordering=-name&page_size=3');
      assert.deepEqual(
        desc.results.map((s: { name: string }) => s.name),
        ['bulk-09999', 'bulk-09998', 'bulk-09997'],
      );
      const clamped = await q('search=bulk&page_size=1000');
      assert.equal(clamped.results.length, 100);
      const last = await q('search=bulk&page_size=100&page=last');
      assert.equal(last.pagination.current, 100);
      assert.equal(last.results.at(-1).name, 'bulk-09999');
      // more than 10,000 matches (the bulk stages and the default flows' own): counted and paged in SQL
      const total = Number(
        (
          await srv.app.store.db
            .selectFrom('stages')
            .select((eb) => eb.fn.countAll().as('c'))
            .where('kind', '=', 'identificationstage')
            .executeTakeFirstOrThrow()
        ).c,
      );
      assert.ok(total > N);
      const everything = await q('page_size=100&page=last&ordering=name');
      assert.equal(everything.pagination.count, total);
      assert.equal(everything.results.length, total % 100 || 100);
      const lastName = (
        await srv.app.store.db
          .selectFrom('stages')
          .select('name')
          .where('kind', '=', 'identificationstage')
          .orderBy('name', 'desc')
          .limit(1)
          .executeTakeFirstOrThrow()
      ).name;
      assert.equal(everything.results.at(-1).name, lastName);
      assert.ok(everything.results.every((r: Record<string, unknown>) => !('__list_key' in r)));
      const combined = await q(`password_stage=${passwordStage}&case_insensitive_matching=true&search=seven&page_size=100`);
      // i % 10 === 0, i % 2 === 1 never both: nothing matches
      assert.equal(combined.pagination.count, 0);
    });
  });
}
