import { describeJobFailureContract } from '../contract/job-failure.contract';
import { describeJobReapingContract } from '../contract/job-reaping.contract';
import { describeJobIdentityContract } from '../contract/job-identity.contract';
import { describeJobTrustContract } from '../contract/job-trust.contract';
import { describeJobContract } from '../contract/job.contract';
import { describeJobInterleavingContract } from '../contract/job-interleaving.contract';
import { describeJobLivenessContract } from '../contract/job-liveness.contract';
import { describeLeaderLatchContract } from '../contract/leader-latch.contract';
import { describeRegistryCenterContract } from '../contract/registry-center.contract';
import { describeServerRestartContract } from '../contract/server-restart.contract';
import { describeTreeCacheContract } from '../contract/tree-cache.contract';
import { useZooKeeperBackend } from './zookeeper-factory';

/** The contract suites on a real ZooKeeper 3.8 (one server for the file). */
describe('ZooKeeper backend', function () {
  const factory = useZooKeeperBackend();
  describeRegistryCenterContract(factory);
  describeTreeCacheContract(factory);
  describeLeaderLatchContract(factory);
  describeJobContract(factory);
  describeJobFailureContract(factory);
  describeJobReapingContract(factory);
  describeJobIdentityContract(factory);
  describeJobTrustContract(factory);
  describeJobLivenessContract(factory);
  // A seeded sample of the interleavings (every one runs on memory); SHARDLINE_SEED reproduces it.
  describeJobInterleavingContract(factory, 5);
  describeServerRestartContract(factory);
});
