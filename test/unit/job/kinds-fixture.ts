import { OwnershipLostError } from '../../../lib/errors';
import type { ShardingContext } from '../../../lib/job/define-job';
import type { Logger, LogFields } from '../../../lib/logger';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: LogFields | undefined;
}

/** A logger that records every line. */
export function recordingLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const at =
    (level: LogLine['level']) =>
    (msg: string, fields?: LogFields): void => {
      lines.push({ level, msg, fields });
    };
  const logger = {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (): Logger => logger,
  };
  return logger;
}

/** A sharding context for item 1 of 3 whose checkOwnership() throws once `controller` is aborted. */
export function fakeContext(
  controller = new AbortController(),
  overrides: Partial<ShardingContext> = {},
): ShardingContext & { logger: ReturnType<typeof recordingLogger> } {
  return {
    jobName: 'order-sync',
    taskId: 'order-sync@-@1@-@READY@-@pod-a',
    shardingItem: 1,
    shardingParameter: 'Shanghai',
    shardingTotalCount: 3,
    jobParameter: 'p',
    instanceId: 'pod-a',
    fencingToken: 7,
    signal: controller.signal,
    logger: recordingLogger(),
    attempt: 1,
    failover: false,
    checkOwnership(): void {
      if (controller.signal.aborted) {
        throw new OwnershipLostError('order-sync', 1, 'aborted');
      }
    },
    ...overrides,
  } as ShardingContext & { logger: ReturnType<typeof recordingLogger> };
}
