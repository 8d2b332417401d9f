import { describeRecipesContract } from '../contract/recipes.contract';
import { useEtcdBackend } from './etcd-factory';

/** The recipes contract on a real etcd (one server for the file, stopped by PID in after()). */
describe('etcd backend: recipes', function () {
  describeRecipesContract(useEtcdBackend());
});
