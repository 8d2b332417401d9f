import {
  context,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { ExecutionRecord } from '../history/execution-record';

/** Instrumentation scope of Shardline's spans. */
export const TRACER_NAME = 'shardline';

/**
 * One span per execution (OpenTelemetry, through `@opentelemetry/api`: a no-op unless the application
 * installs an SDK). The span is named `execute {job}` (job names are few: low cardinality) and carries
 * `shardline.job`, `shardline.item`, `shardline.instance_id`, `shardline.fencing_token`, `shardline.trigger`
 * and, at its end, `shardline.outcome`; a failed or aborted execution sets the span status to ERROR with
 * the error's message. The handler runs inside the span's context (`run`), so its own spans (HTTP and
 * database client instrumentations, `trace.getActiveSpan()`) become children of it.
 */
export class ExecutionSpan {
  private constructor(
    private readonly span: Span,
    private readonly ctx: Context,
  ) {}

  static start(
    tracer: Tracer,
    record: Pick<
      ExecutionRecord,
      'job' | 'item' | 'instanceId' | 'fencingToken' | 'trigger' | 'startedAt'
    >,
  ): ExecutionSpan {
    const parent = context.active();
    const span = tracer.startSpan(
      `execute ${record.job}`,
      {
        kind: SpanKind.INTERNAL,
        startTime: record.startedAt,
        attributes: {
          'shardline.job': record.job,
          'shardline.item': record.item,
          'shardline.instance_id': record.instanceId,
          'shardline.fencing_token': record.fencingToken,
          'shardline.trigger': record.trigger,
        },
      },
      parent,
    );
    return new ExecutionSpan(span, trace.setSpan(parent, span));
  }

  /** Runs `fn` with this span active. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return context.with(this.ctx, fn);
  }

  end(record: ExecutionRecord): void {
    if (this.span.isRecording()) {
      this.span.setAttribute('shardline.outcome', record.outcome);
      if (record.outcome !== 'succeeded') {
        this.span.setStatus({ code: SpanStatusCode.ERROR, message: record.error });
      }
    }
    this.span.end(record.endedAt);
  }
}
