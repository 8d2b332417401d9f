import { expect } from 'chai';
import { defineJob } from '../../lib/job/define-job';
import { collectJobs } from '../../lib/cli/module-loader';
import { formatTable } from '../../lib/cli/output';

/** In-process checks of the CLI's pure helpers (the commands themselves run as child processes). */
describe('CLI helpers', () => {
  const a = defineJob({ name: 'a', execute: () => undefined });
  const b = defineJob({ name: 'b', execute: () => undefined });

  it('collectJobs takes the default export (array or one job) before named exports', () => {
    expect(collectJobs({ default: [a, 'x', b], c: a })).to.deep.equal([a, b]);
    expect(collectJobs({ default: b, a })).to.deep.equal([b]);
  });

  it('collectJobs falls back to named exports, skipping everything that is no job, without duplicates', () => {
    expect(collectJobs({ a, again: a, b, other: { name: 'c' }, n: 1 })).to.deep.equal([a, b]);
    expect(collectJobs({ default: [1, 2], a })).to.deep.equal([a]);
  });

  it('collectJobs accepts module.exports = job or [jobs], and finds none in anything else', () => {
    expect(collectJobs(a)).to.deep.equal([a]);
    expect(collectJobs([a, b])).to.deep.equal([a, b]);
    expect(collectJobs({ name: 'a', execute: () => undefined })).to.deep.equal([]);
    expect(collectJobs(undefined)).to.deep.equal([]);
    expect(collectJobs(null)).to.deep.equal([]);
  });

  it('formatTable aligns columns two spaces apart and trims trailing spaces', () => {
    expect(
      formatTable(
        ['JOB', 'STATUS'],
        [
          ['order-sync', 'OK'],
          ['x', 'CRASHED'],
        ],
      ),
    ).to.deep.equal(['JOB         STATUS', 'order-sync  OK', 'x           CRASHED']);
  });
});
