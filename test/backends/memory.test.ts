import { describeLeaderLatchContract } from '../contract/leader-latch.contract';
import { describeRegistryCenterContract } from '../contract/registry-center.contract';
import { describeTreeCacheContract } from '../contract/tree-cache.contract';
import { memoryFactory } from './memory-factory';

describe('memory backend', () => {
  describeRegistryCenterContract(memoryFactory);
  describeTreeCacheContract(memoryFactory);
  describeLeaderLatchContract(memoryFactory);
});
