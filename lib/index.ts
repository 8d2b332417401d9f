/**
 * Shardline's public surface. Everything exported here is documented and semver-stable; anything
 * reachable only through deep imports is internal.
 */
export { createRegistryCenter } from './registry/create-registry-center';
export { parseRegistryUrl } from './registry/registry-url';
export { CreateMode } from './registry/registry-center';
export type {
  ConnectionState,
  CoordinatorRegistryCenter,
  ExecuteInLeaderOptions,
  LeaderCallback,
  LeaderFence,
  NodeStat,
  RegistryEvent,
  RegistryListener,
  TreeCache,
  TreeCacheEvents,
  Unsubscribe,
} from './registry/registry-center';
export type { TransactionBuilder, TxnCreateMode } from './registry/txn';
export { MAX_TXN_OPS } from './registry/txn';
export type {
  CommonRegistryOptions,
  Credentials,
  EtcdRegistryOptions,
  EtcdTlsOptions,
  MemoryRegistryOptions,
  RegistryCenterOptions,
  ZooKeeperRegistryOptions,
} from './registry/options';
export * from './errors';
// recipes
export { createLock, DistributedLock } from './recipes/distributed-lock';
export type {
  AcquireOptions,
  DistributedLockEvents,
  LockOptions,
} from './recipes/distributed-lock';
export { createLeaderElection, LeaderElection } from './recipes/leader-election';
export type {
  LeaderElectionEvents,
  LeaderElectionOptions,
  LeaderInfo,
  LeaderTerm,
} from './recipes/leader-election';
export { registerService, ServiceRegistration } from './recipes/service-registration';
export type {
  ServiceInstance,
  ServiceRegistrationEvents,
  ServiceRegistrationOptions,
} from './recipes/service-registration';
export { discoverServices, ServiceDiscovery } from './recipes/service-discovery';
export type { ServiceDiscoveryEvents, ServiceDiscoveryOptions } from './recipes/service-discovery';
export { ConfigWatcher, watchConfig } from './recipes/config-watcher';
export type {
  ConfigChange,
  ConfigWatcherEvents,
  ConfigWatcherOptions,
} from './recipes/config-watcher';
// jobs
export { defineJob, isJobDefinition } from './job/define-job';
export type {
  DataflowJobOptions,
  JobDefinition,
  JobOptions,
  ScriptJobOptions,
  ShardingContext,
  ShardingStrategyFunction,
  SimpleJobOptions,
} from './job/define-job';
export type { JobConfig, JobType, RetryPolicy, StrategyName } from './job/job-config';
export { startWorker, Worker } from './job/worker';
export type { StopOptions, WorkerOptions } from './job/worker';
export type {
  ConfigDriftEvent,
  ExecutedEvent,
  FailedEvent,
  JobErrorEvent,
  JobStoppedEvent,
  LeaderEvent,
  MisfireEvent,
  ShardedEvent,
  WorkerEvents,
} from './job/job-events';
export { consoleLogger, noopLogger } from './logger';
export type { LogFields, Logger } from './logger';
// operations
export { createOperations } from './ops/operations-api';
export { JobInUseError, NotAJobError } from './ops/ops-errors';
export type {
  CorruptedJobBrief,
  CorruptedNode,
  ItemInfo,
  ItemStatus,
  JobBrief,
  JobStatus,
  JobStatusInfo,
  Operations,
  ReadableJobBrief,
  RemoveOptions,
  RemoveResult,
  RequestResult,
  ShutdownTarget,
  ToggleResult,
  ToggleTarget,
  UpdateConfigOptions,
} from './ops/operations-api';
// web console
export { createConsoleHandler } from './console/console-handler';
export type { ConsoleHandler, ConsoleOptions } from './console/console-handler';
export { startConsoleServer } from './console/console-server';
export type { ConsoleServer, ConsoleServerOptions } from './console/console-server';
// execution history, metrics and tracing
export { createMemoryHistory, MemoryHistory } from './history/memory-history';
export type { MemoryHistoryOptions } from './history/memory-history';
export { createJsonLinesHistory, JsonLinesHistory } from './history/json-lines-history';
export type { JsonLinesHistoryOptions } from './history/json-lines-history';
export { createPostgresHistory, PostgresHistory } from './history/postgres-history';
export type { PostgresHistoryOptions } from './history/postgres-history';
export type {
  ExecutionHistoryReader,
  ExecutionHistorySink,
  ExecutionOutcome,
  ExecutionRecord,
  ExecutionTrigger,
  HistoryFilter,
} from './history/execution-record';
export { METRIC_NAMES } from './metrics/shardline-metrics';
export { serveMetrics } from './metrics/metrics-server';
export type { MetricsServer, MetricsServerOptions } from './metrics/metrics-server';
export { TRACER_NAME } from './job/execution-span';
