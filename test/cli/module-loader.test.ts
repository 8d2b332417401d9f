import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { CliError } from '../../lib/cli/cli-errors';
import { defineJob } from '../../lib/job/define-job';
import { collectJobs, describeLoadError, loadJobModule } from '../../lib/cli/module-loader';
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

  describe('a jobs module with a syntax error names its file and line', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'shardline-loader-'));
      writeFileSync(join(dir, 'broken.ts'), 'const a = 1;\nexport const job = (a, ;\n');
      writeFileSync(join(dir, 'broken-js.js'), 'const a = 1;\n\nmodule.exports = (a, ;\n');
      writeFileSync(join(dir, 'outer.ts'), "export * from './inner';\n");
      writeFileSync(join(dir, 'inner.ts'), '\n\nexport const x = {;\n');
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    const loadError = (module: string): CliError => {
      try {
        loadJobModule(module, dir);
      } catch (err) {
        expect(err).to.be.instanceOf(CliError);
        return err as CliError;
      }
      throw new Error('expected a CliError');
    };

    it('a TypeScript module (loaded through tsx)', () => {
      expect(loadError('./broken.ts').message).to.match(
        /^cannot load module \.\/broken\.ts: syntax error at broken\.ts:2:\d+: /,
      );
    });

    it('a JavaScript module', () => {
      expect(loadError('broken-js.js').message).to.match(
        /^cannot load module broken-js\.js: syntax error at broken-js\.js:3:\d+: /,
      );
    });

    it('a module it imports: the file with the error', () => {
      expect(loadError('outer.ts').message).to.match(/syntax error at inner\.ts:3:\d+: /);
    });

    it("Node's own SyntaxError (no tsx): file, line and the caret's column", () => {
      let thrown: unknown;
      try {
        new Script('const a = 1;\nmodule.exports = (a, ;\n', { filename: join(dir, 'plain.js') });
      } catch (err) {
        thrown = err;
      }
      expect(describeLoadError(thrown, dir)).to.equal(
        "syntax error at plain.js:2:22: Unexpected token ';'",
      );
      expect(describeLoadError(thrown, '/elsewhere')).to.equal(
        `syntax error at ${join(dir, 'plain.js')}:2:22: Unexpected token ';'`,
      );
      expect(describeLoadError(new Error('boom\nmore'), dir)).to.equal('boom');
    });
  });
});
