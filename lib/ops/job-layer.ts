/**
 * The one place where the operations API reaches into the job layer (DESIGN §1: cli/console → ops/job).
 * The repository's lint rule that keeps `registry/` from importing `job/` also matches `lib/ops/`, so the
 * imports are gathered here, under one explained exception, instead of being scattered across ops files.
 */
/* eslint-disable no-restricted-imports -- ops → job is an allowed arrow (DESIGN §1); see the file doc */
export { JobPaths } from '../job/job-paths';
export type { JobConfig } from '../job/job-config';
export { parseJobConfig, serializeJobConfig, validateJobConfig } from '../job/job-config';
export { parseInstanceInfo } from '../job/job-instance';
/* eslint-enable no-restricted-imports */
