import { describeRecipesContract } from '../contract/recipes.contract';
import { useZooKeeperBackend } from './zookeeper-factory';

/** The recipes contract on a real ZooKeeper (one server for the file, stopped by PID in after()). */
describe('ZooKeeper backend: recipes', function () {
  describeRecipesContract(useZooKeeperBackend());
});
