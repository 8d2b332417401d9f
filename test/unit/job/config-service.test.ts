import { expect } from 'chai';
import { CorruptedDataError } from '../../../lib/errors';
import { defineJob } from '../../../lib/job/define-job';
import type { JobContext } from '../../../lib/job/job-context';
import { serializeJobConfig } from '../../../lib/job/job-config';
import { JobPaths } from '../../../lib/job/job-paths';
import { ConfigService } from '../../../lib/job/services/config-service';
import { noopLogger } from '../../../lib/logger';
import type { CoordinatorRegistryCenter } from '../../../lib/registry/registry-center';

/** `apply` reads only the job name and its paths; nothing here touches a registry. */
function context(jobName: string): JobContext {
  return {
    jobName,
    paths: new JobPaths(jobName),
    instanceId: 'w-a',
    ip: '127.0.0.1',
    registry: undefined as unknown as CoordinatorRegistryCenter,
    logger: noopLogger,
    cache: () => {
      throw new Error('no cache in this test');
    },
  };
}

describe('ConfigService.apply (a stored configuration changed at runtime)', () => {
  it('reports failover: true with monitorExecution: false as corrupted, naming both fields, and keeps the last good config', () => {
    const definition = defineJob({ name: 'job', execute: () => undefined, failover: true });
    const service = new ConfigService(context('job'), definition);
    const reports: CorruptedDataError[] = [];
    const stored = serializeJobConfig({ ...definition.config, failover: false });
    const changed = JSON.stringify({ ...definition.config, monitorExecution: false });

    expect(service.apply(stored, err => reports.push(err))?.next.failover).to.equal(false);
    expect(service.apply(changed, err => reports.push(err))).to.equal(undefined);

    expect(reports).to.have.length(1);
    expect(reports[0]).to.be.instanceOf(CorruptedDataError);
    expect(reports[0]?.path).to.equal('/job/config');
    expect(reports[0]?.message).to.match(/failover: .*monitorExecution/);
    expect(service.config.failover).to.equal(false);
    expect(service.config.monitorExecution).to.equal(true);
  });
});
