import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/', 'node_modules/', 'coverage/', '.scratch*/', '.tmp/', '**/*.cjs', '**/*.mjs'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      curly: 'error',
      eqeqeq: 'error',
    },
  },
  {
    files: ['lib/**/*.ts'],
    rules: {
      'no-console': 'error',
    },
  },
  {
    // The console's front end: plain browser JavaScript shipped as is (no build step, no types).
    files: ['lib/console/assets/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'script',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'history',
          'sessionStorage',
          'fetch',
          'EventSource',
          'URLSearchParams',
          'FormData',
          'Node',
          'setTimeout',
          'console',
        ].map(g => [g, 'readonly']),
      ),
    },
  },
  {
    // The job layer and the recipes use the contract only, never a backend (STYLE 3.2).
    files: ['lib/job/**/*.ts', 'lib/ops/**/*.ts', 'lib/recipes/**/*.ts', 'lib/registry/*.ts'],
    ignores: ['lib/registry/create-registry-center.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['**/memory/*', '**/zookeeper/*', '**/etcd/*'] },
      ],
    },
  },
  {
    files: ['lib/registry/**/*.ts'],
    ignores: ['lib/registry/create-registry-center.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['**/job/*', '**/ops/*', '**/cli/*', '**/recipes/*'] },
      ],
    },
  },
  {
    // The ZooKeeper backend reaches below node-zookeeper-client's public API only through wire/index.ts
    // (docs/registry.md, "Wire layer"); no deep import of the library anywhere in lib/.
    files: ['lib/registry/zookeeper/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '**/job/*',
            '**/ops/*',
            '**/cli/*',
            '**/recipes/*',
            './wire/*',
            'node-zookeeper-client/*',
          ],
        },
      ],
    },
  },
  {
    // Backends never import the job layer either (and create-registry-center may import backends).
    files: ['lib/registry/create-registry-center.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['**/job/*', '**/ops/*', '**/cli/*', '**/recipes/*'] },
      ],
    },
  },
);
