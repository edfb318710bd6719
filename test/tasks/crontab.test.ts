/**
 * The schedules' crontab (src/tasks/crontab.ts): the next run is the first minute after a time that every field
 * names — checked against a minute-by-minute scan over random expressions and times — and bad expressions are refused
 * with what is wrong.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crontabError, nextRun, parseCrontab } from '../../src/tasks/crontab.js';

/** the slow, obvious answer: minute after minute */
function scan(expr: string, after: Date, maxMinutes: number): Date | undefined {
  const c = parseCrontab(expr);
  const t = new Date(after.getTime());
  t.setUTCSeconds(0, 0);
  for (let i = 0; i < maxMinutes; i++) {
    t.setUTCMinutes(t.getUTCMinutes() + 1);
    const dom = c.days.has(t.getUTCDate());
    const dow = c.weekdays.has(t.getUTCDay());
    const day = c.anyDay && c.anyWeekday ? true : c.anyDay ? dow : c.anyWeekday ? dom : dom || dow;
    if (c.minutes.has(t.getUTCMinutes()) && c.hours.has(t.getUTCHours()) && c.months.has(t.getUTCMonth() + 1) && day)
      return new Date(t.getTime());
  }
  return undefined;
}

const field = (min: number, max: number) =>
  fc.oneof(
    fc.constant('*'),
    fc.integer({ min, max }).map(String),
    fc.integer({ min: 1, max: Math.max(1, max - min) }).map((s) => `*/${s}`),
    fc.tuple(fc.integer({ min, max }), fc.integer({ min, max })).map(([a, b]) => (a <= b ? `${a}-${b}` : `${b}-${a}`)),
    fc.uniqueArray(fc.integer({ min, max }), { minLength: 2, maxLength: 4 }).map((xs) => xs.join(',')),
  );

describe('crontab', () => {
  it('the next run is the first minute a scan finds (random expressions and times)', () => {
    fc.assert(
      fc.property(
        field(0, 59),
        field(0, 23),
        fc.oneof(fc.constant('*'), field(1, 28)),
        fc.oneof(fc.constant('*'), field(1, 12)),
        field(0, 7),
        fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2030-12-31T00:00:00Z'), noInvalidDate: true }),
        (m, h, dom, mon, dow, after) => {
          const expr = `${m} ${h} ${dom} ${mon} ${dow}`;
          const fast = nextRun(parseCrontab(expr), after);
          const slow = scan(expr, after, 2 * 366 * 24 * 60);
          assert.equal(fast?.toISOString(), slow?.toISOString(), expr);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('names, Sunday as 7, and either day field when both are restricted', () => {
    const after = new Date('2026-12-06T12:00:30Z'); // a Sunday
    assert.equal(nextRun(parseCrontab('30 3 * * sun'), after)?.toISOString(), '2026-12-13T03:30:00.000Z');
    assert.equal(nextRun(parseCrontab('30 3 * * 7'), after)?.toISOString(), '2026-12-13T03:30:00.000Z');
    assert.equal(nextRun(parseCrontab('0 0 1 jan *'), after)?.toISOString(), '2027-01-01T00:00:00.000Z');
    // the 15th or any Monday: Monday the 7th comes first
    assert.equal(nextRun(parseCrontab('0 9 15 * mon'), after)?.toISOString(), '2026-12-07T09:00:00.000Z');
    // strictly after: the current minute is not the next run
    assert.equal(nextRun(parseCrontab('0 12 * * *'), new Date('2026-12-06T12:00:00Z'))?.toISOString(), '2026-12-07T12:00:00.000Z');
    assert.equal(nextRun(parseCrontab('0 0 29 2 *'), after)?.toISOString(), '2028-02-29T00:00:00.000Z');
  });

  it('refuses what is not a crontab, saying what is wrong', () => {
    for (const [expr, message] of [
      ['* * * *', /five fields/],
      ['60 * * * *', /outside 0-59/],
      ['* 24 * * *', /outside 0-23/],
      ['* * 0 * *', /outside 1-31/],
      ['5-1 * * * *', /backwards/],
      ['*/0 * * * *', /step/],
      ['a * * * *', /not a number/],
      ['0 0 31 2 *', /no time in the next five years/],
      ['1,,2 * * * *', /not a cron field/],
    ] as const)
      assert.match(crontabError(expr) ?? 'accepted', message, expr);
    assert.equal(crontabError('*/5 1-3,7 * * mon-fri'), undefined);
  });
});
