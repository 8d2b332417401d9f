import { expect } from 'chai';
import { EXIT_FAILURE, EXIT_USAGE, describeFailure } from '../../lib/cli/cli-errors';
import {
  ConfigurationError,
  ConnectionLossError,
  CoordinationError,
  InstanceIdConflictError,
  JobError,
  JobExecutionError,
  NoNodeError,
  OwnershipLostError,
  RegistryCommandRefusedError,
  SessionExpiredError,
  ShardlineError,
  UnknownJobError,
  isRetryable,
} from '../../lib/errors';
import { JobInUseError, NotAJobError } from '../../lib/ops/ops-errors';

describe('error hierarchy', () => {
  const jobSide: ShardlineError[] = [
    new JobExecutionError('sync', 0, 'handler threw'),
    new UnknownJobError('sync'),
    new RegistryCommandRefusedError('sync', '/sync/config'),
    new JobInUseError('sync', '/sync/instances', ['pod-a']),
    new NotAJobError('sync', '/sync/x', 'is not a job node'),
  ];
  const coordination: ShardlineError[] = [
    new NoNodeError('/a'),
    new ConnectionLossError('dropped'),
    new SessionExpiredError('expired'),
    new OwnershipLostError('sync', 0, 'signal aborted'),
    new InstanceIdConflictError('pod-a', '/sync/instances/pod-a', { host: 'h', pid: 1, since: 0 }),
  ];

  it('job-side errors are JobErrors, not CoordinationErrors', () => {
    for (const err of jobSide) {
      expect(err, err.name).to.be.instanceOf(ShardlineError).and.instanceOf(JobError);
      expect(err, err.name).not.to.be.instanceOf(CoordinationError);
      expect(isRetryable(err), err.name).to.equal(false);
    }
  });

  it('registry and coordination errors are CoordinationErrors, not JobErrors', () => {
    for (const err of coordination) {
      expect(err, err.name).to.be.instanceOf(ShardlineError).and.instanceOf(CoordinationError);
      expect(err, err.name).not.to.be.instanceOf(JobError);
    }
  });

  it('a ConfigurationError is neither a coordination nor a job failure', () => {
    const err = new ConfigurationError('bad cron', 'cron');
    expect(err).to.be.instanceOf(ShardlineError);
    expect(err).not.to.be.instanceOf(CoordinationError);
    expect(err).not.to.be.instanceOf(JobError);
    expect(err.name).to.equal('ConfigurationError');
    expect(isRetryable(err)).to.equal(false);
  });

  it('gives each refusal of remove(job) its own code', () => {
    expect(new JobInUseError('sync', '/sync/instances', ['pod-a']).code).to.equal('JOB_IN_USE');
    expect(new NotAJobError('sync', '/sync/x', 'is not a job node').code).to.equal('NOT_A_JOB');
    expect(new UnknownJobError('sync').code).to.equal('UNKNOWN_JOB');
  });

  it('isRetryable is true for transient registry failures only', () => {
    expect(isRetryable(new ConnectionLossError('dropped'))).to.equal(true);
    expect(isRetryable(new SessionExpiredError('expired'))).to.equal(true);
    expect(isRetryable(new NoNodeError('/a'))).to.equal(false);
    expect(isRetryable(new Error('plain'))).to.equal(false);
  });

  it('the CLI maps usage errors to exit 2 and every other failure to exit 1', () => {
    expect(describeFailure(new ConfigurationError('bad url', 'url')).exitCode).to.equal(EXIT_USAGE);
    expect(describeFailure(new ConfigurationError('bad cron', 'cron')).exitCode).to.equal(
      EXIT_FAILURE,
    );
    expect(describeFailure(new UnknownJobError('sync')).exitCode).to.equal(EXIT_FAILURE);
    expect(describeFailure(new ConnectionLossError('dropped')).exitCode).to.equal(EXIT_FAILURE);
    expect(describeFailure(new Error('plain\n  text'))).to.deep.equal({
      message: 'plain text',
      exitCode: EXIT_FAILURE,
    });
    expect(describeFailure('a string').exitCode).to.equal(EXIT_FAILURE);
  });
});
