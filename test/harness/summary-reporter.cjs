'use strict';
// Mocha reporter: the usual 'spec' output, then one closing line alone that CI (.ci/run) parses:
//   `N passed, N failed` or `N passed, N failed, N skipped` when some tests are pending.
// Failures include failed hooks (mocha counts them in stats.failures), so a broken before() is not "0 failed".
// When SHARDLINE_SUMMARY_FILE is set (scripts/test.mjs sets it), the same line is also written there, so the
// runner can tell "mocha reported" from "mocha crashed before reporting" and still end with such a line.
const fs = require('node:fs');
const Mocha = require('mocha');

const { EVENT_RUN_END } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    // Registered after Spec's own listener, so this prints after Spec's epilogue.
    runner.once(EVENT_RUN_END, () => {
      const { passes = 0, failures = 0, pending = 0 } = this.stats;
      let line = `${passes} passed, ${failures} failed`;
      if (pending > 0) {
        line += `, ${pending} skipped`;
      }
      Mocha.reporters.Base.consoleLog(`\n${line}`);
      const file = process.env.SHARDLINE_SUMMARY_FILE;
      if (file) {
        fs.writeFileSync(file, `${line}\n`);
      }
    });
  }
}

module.exports = SummaryReporter;
