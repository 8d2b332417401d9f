// No `exit` option on purpose: a leaked watcher, timer or socket must hang the run so that it gets noticed.
module.exports = {
  require: ['tsx/cjs', './test/setup.ts'],
  extension: ['ts'],
  timeout: 10000,
  reporter: './test/harness/summary-reporter.cjs',
};
