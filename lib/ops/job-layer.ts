/**
 * The one place where the operations API reaches into the job layer (imports point one way:
 * cli/console → ops → job → registry contract):
 * the node layout and the stored formats, nothing of the runtime.
 */
export { JobPaths } from '../job/job-paths';
export type { JobConfig } from '../job/job-config';
export { parseJobConfig, serializeJobConfig, validateJobConfig } from '../job/job-config';
export { parseInstanceInfo } from '../job/job-instance';
