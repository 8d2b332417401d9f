/**
 * Kept for `services/config-service.ts`, which imports the stored key order from here. The configuration's
 * types and constants are stated once, by the schema in `job-config-schema.ts`; import them from
 * `job-config.ts`.
 */
export { JOB_CONFIG_KEYS } from './job-config-schema';
