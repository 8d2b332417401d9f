import { describeRecipesContract } from '../contract/recipes.contract';
import { memoryFactory } from './memory-factory';

/** The recipes contract on the embedded registry. */
describe('memory backend: recipes', () => {
  describeRecipesContract(memoryFactory);
});
