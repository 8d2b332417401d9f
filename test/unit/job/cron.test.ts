import { expect } from 'chai';
import { ConfigurationError } from '../../../lib/errors';
import { nextFireTime, validateCron, validateTimeZone } from '../../../lib/job/scheduler/cron';

const at = (iso: string): Date => new Date(iso);
const next = (expr: string, tz: string, after: string): string | undefined =>
  nextFireTime(expr, tz, at(after))?.toISOString();

describe('cron', () => {
  describe('validateCron / validateTimeZone', () => {
    for (const expr of [
      '*/5 * * * * *',
      '0 0 9 * * *',
      '0/5 * * * * ?',
      '*/5 * * * *',
      '0 9 * * MON-FRI',
      '@daily',
    ]) {
      it(`accepts "${expr}"`, () => {
        expect(() => validateCron(expr, 'UTC')).not.to.throw();
      });
    }

    const bad = [
      '',
      '   ',
      'bad',
      '* * * *',
      '* * * * * * * *',
      '60 * * * * *',
      '* 61 * * * *',
      '0 0 0 30 2 *',
    ];
    for (const expr of bad) {
      it(`rejects "${expr}" naming 'cron'`, () => {
        expect(() => validateCron(expr, 'UTC'))
          .to.throw(ConfigurationError, /^cron: /)
          .with.property('field', 'cron');
      });
    }

    it("rejects an unknown time zone naming 'timeZone'", () => {
      for (const tz of ['Mars/Olympus', '', 'UTC+25']) {
        expect(() => validateCron('* * * * * *', tz))
          .to.throw(ConfigurationError, /^timeZone: /)
          .with.property('field', 'timeZone');
        expect(() => validateTimeZone(tz)).to.throw(ConfigurationError);
      }
      expect(() => validateTimeZone('Europe/Berlin')).not.to.throw();
    });
  });

  describe('nextFireTime', () => {
    it('supports seconds and is strictly after `after`', () => {
      expect(next('*/5 * * * * *', 'UTC', '2024-01-01T00:00:00.000Z')).to.equal(
        '2024-01-01T00:00:05.000Z',
      );
      expect(next('*/5 * * * * *', 'UTC', '2024-01-01T00:00:04.999Z')).to.equal(
        '2024-01-01T00:00:05.000Z',
      );
      expect(next('*/5 * * * * *', 'UTC', '2024-01-01T00:00:05.000Z')).to.equal(
        '2024-01-01T00:00:10.000Z',
      );
      expect(next('* * * * * *', 'UTC', '2024-01-01T00:00:00.500Z')).to.equal(
        '2024-01-01T00:00:01.000Z',
      );
    });

    it('treats five fields as minutes (second 0)', () => {
      expect(next('*/5 * * * *', 'UTC', '2024-01-01T00:00:00.000Z')).to.equal(
        '2024-01-01T00:05:00.000Z',
      );
      expect(next('30 9 * * *', 'UTC', '2024-01-01T10:00:00.000Z')).to.equal(
        '2024-01-02T09:30:00.000Z',
      );
    });

    it('evaluates in the time zone: 09:00 in Asia/Shanghai is 01:00 UTC', () => {
      expect(next('0 0 9 * * *', 'Asia/Shanghai', '2024-01-01T00:00:00.000Z')).to.equal(
        '2024-01-01T01:00:00.000Z',
      );
      expect(next('0 0 9 * * *', 'UTC', '2024-01-01T00:00:00.000Z')).to.equal(
        '2024-01-01T09:00:00.000Z',
      );
      expect(next('0 0 9 * * *', 'Asia/Shanghai', '2024-01-01T01:00:00.000Z')).to.equal(
        '2024-01-02T01:00:00.000Z',
      );
    });

    it('follows DST in America/New_York', () => {
      // EST (UTC-5) before 2024-03-10, EDT (UTC-4) after.
      expect(next('0 0 9 * * *', 'America/New_York', '2024-03-09T15:00:00.000Z')).to.equal(
        '2024-03-10T13:00:00.000Z',
      );
      expect(next('0 0 9 * * *', 'America/New_York', '2024-03-08T15:00:00.000Z')).to.equal(
        '2024-03-09T14:00:00.000Z',
      );
      // 02:30 does not exist on 2024-03-10: the next fire is not on that wall-clock time in UTC-5.
      const gap = nextFireTime('0 30 2 * * *', 'America/New_York', at('2024-03-10T05:00:00.000Z'));
      expect(gap).to.not.equal(null);
      expect(gap!.getTime()).to.be.greaterThan(at('2024-03-10T05:00:00.000Z').getTime());
      // Back to EST on 2024-11-03.
      expect(next('0 0 9 * * *', 'America/New_York', '2024-11-02T14:00:00.000Z')).to.equal(
        '2024-11-03T14:00:00.000Z',
      );
    });

    it('combines day-of-week and month restrictions', () => {
      // 2024-01-06 is a Saturday: next weekday 09:00 UTC is Monday 2024-01-08.
      expect(next('0 0 9 * * MON-FRI', 'UTC', '2024-01-06T00:00:00.000Z')).to.equal(
        '2024-01-08T09:00:00.000Z',
      );
    });

    it('throws ConfigurationError for an invalid expression', () => {
      expect(() => nextFireTime('bad', 'UTC', new Date())).to.throw(ConfigurationError, /cron/);
    });
  });
});
