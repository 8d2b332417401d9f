import type { Histogram, HistogramConfiguration } from 'prom-client';

/** One label set of a {@link CellHistogram}: plain numbers, counted on the hot path, read at scrape. */
export class HistogramCell {
  /** Observations per bucket, not cumulative; the last slot holds those above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  /** Whether the label set is exported (observed since creation or the last reset). */
  present = false;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Counts `value` (seconds) in its bucket; a value that is not a finite number is refused. */
  observe(value: number): void {
    if (!Number.isFinite(value)) {
      throw new TypeError(`Value is not a valid number: ${String(value)}`);
    }
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) {
      i++;
    }
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
    this.present = true;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
    this.present = false;
  }
}

export interface CellHistogramOptions {
  name: string;
  help: string;
  labelNames: readonly string[];
  /** Upper bounds, ascending (seconds). */
  buckets: readonly number[];
  /** Registries of either content type, as prom-client's own metrics take them. */
  registers: NonNullable<HistogramConfiguration<string>['registers']>;
}

/** What prom-client's Registry reads of a metric, and the shape its Histogram exports. */
type Exported = Awaited<ReturnType<Histogram['get']>>;
interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName: string;
  exemplar?: null;
}

/**
 * A Prometheus histogram whose observations are plain numbers in a {@link HistogramCell} per label set,
 * exported by prom-client's Registry exactly as its own `Histogram` would be (same series, labels, order
 * and values; default labels and the OpenMetrics format included). Why not prom-client's `Histogram`:
 * each of its observations, even through a cached `labels()` child, validates and hashes the label set
 * into a string (about 1.5 µs), paid on every execution and every registry request; a cell costs a few
 * comparisons and additions. The hot path keeps its cell (`cell(labels)` once per label set).
 *
 * Registered in each of `registers` (prom-client's Registry reads `name`, `get()`/`getForPromString()`
 * and `reset()` of a metric; its TypeScript type names only its own classes, hence the cast there).
 * `register.getSingleMetric(name)` returns this object, not a prom-client `Histogram`.
 */
export class CellHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly labelNames: readonly string[];
  private readonly bounds: readonly number[];
  private readonly cells = new Map<string, HistogramCell>();

  constructor(options: CellHistogramOptions) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames;
    this.bounds = [...options.buckets];
    for (const register of options.registers) {
      register.registerMetric(this as unknown as Histogram);
    }
  }

  /** The cell of `labels` (every label name given, nothing else), created on first use. */
  cell(labels: Readonly<Record<string, string>>): HistogramCell {
    const key = this.labelNames.map(n => labels[n] ?? '').join('\u0000');
    let cell = this.cells.get(key);
    if (cell === undefined) {
      const own: Record<string, string> = {};
      for (const n of this.labelNames) {
        own[n] = labels[n] ?? '';
      }
      cell = new HistogramCell(own, this.bounds);
      this.cells.set(key, cell);
    }
    return cell;
  }

  /** Zeroes every cell; a label set is exported again once observed (prom-client's `reset`). */
  reset(): void {
    for (const cell of this.cells.values()) {
      cell.reset();
    }
  }

  /** What prom-client's Registry formats as text: `le` as the label, the cell's labels shared. */
  getForPromString(): Promise<Exported> {
    const values: ExportedValue[] = [];
    for (const cell of this.cells.values()) {
      if (!cell.present) {
        continue;
      }
      const sharedLabels = cell.labels;
      let acc = 0;
      this.bounds.forEach((bound, i) => {
        acc += cell.counts[i] as number;
        values.push(this.value({ le: bound }, acc, '_bucket', sharedLabels, null));
      });
      values.push(
        this.value({ le: '+Inf' }, cell.count, '_bucket', sharedLabels, null),
        this.value({}, cell.sum, '_sum', sharedLabels, undefined),
        this.value({}, cell.count, '_count', sharedLabels, undefined),
      );
    }
    return Promise.resolve(this.exported(values));
  }

  /** The same values with the cell's labels merged in (prom-client's `Histogram.get()`). */
  async get(): Promise<Exported> {
    const data = await this.getForPromString();
    data.values = (data.values as ExportedValue[]).map(({ sharedLabels, labels, ...rest }) => ({
      ...rest,
      labels: { ...labels, ...sharedLabels },
    }));
    return data;
  }

  private value(
    labels: Record<string, string | number>,
    value: number,
    suffix: string,
    sharedLabels: Readonly<Record<string, string>>,
    exemplar: null | undefined,
  ): ExportedValue {
    return { labels, sharedLabels, value, metricName: `${this.name}${suffix}`, exemplar };
  }

  private exported(values: ExportedValue[]): Exported {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    } as unknown as Exported;
  }
}
