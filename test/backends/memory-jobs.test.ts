import { describeJobInterleavingContract } from '../contract/job-interleaving.contract';
import { describeJobLivenessContract } from '../contract/job-liveness.contract';
import { describeJobFailureContract } from '../contract/job-failure.contract';
import { describeJobReapingContract } from '../contract/job-reaping.contract';
import { describeJobIdentityContract } from '../contract/job-identity.contract';
import { describeJobTrustContract } from '../contract/job-trust.contract';
import { describeJobContract } from '../contract/job.contract';
import { memoryFactory } from './memory-factory';

describe('memory backend: jobs', () => {
  describeJobContract(memoryFactory);
  describeJobFailureContract(memoryFactory);
  describeJobReapingContract(memoryFactory);
  describeJobIdentityContract(memoryFactory);
  describeJobTrustContract(memoryFactory);
  describeJobLivenessContract(memoryFactory);
  describeJobInterleavingContract(memoryFactory);
});
