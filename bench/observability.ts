/**
 * Observability cost benchmark: the CPU of a worker running about 1,000 executions per second on the
 * embedded registry, without and with metrics + history, side by side in one run (issue 11: the target
 * is < 5 % more CPU).
 *
 *   npm run bench:observability
 *   REPS=7 WINDOW_S=5 JOBS=10 ITEMS=100 npm run bench:observability
 *
 * Each repetition is a fresh child process (this file with `--child off|on`, so no garbage or JIT state
 * of one run is billed to the next) that starts a registry and a worker with JOBS jobs of ITEMS items,
 * all firing every second (JOBS × ITEMS executions per second; the handler does nothing, so the cost
 * measured is the framework's), waits for the assignment and two fires, then measures
 * `process.cpuUsage()` (user + system: worker and embedded registry) over WINDOW_S seconds, aligned
 * between fires. Modes alternate (off, on, off, on, …) so machine load drifts hit both alike.
 *
 * - off: `history: false`, no metrics (spans are the no-op API in both modes).
 * - on:  metrics into a prom-client Registry scraped (`register.metrics()`) once per second, the default
 *        memory ring, and a JSON-lines sink to a temp file.
 *
 * Printed: per mode the medians of executions/s, CPU % of one core and CPU µs per execution; then the
 * ratio on/off of the median CPU per execution.
 *
 * `PAIRED=1` runs each repetition's off and on children at the same time, their windows on the same
 * seconds, so both see the same machine load (the two cores hold both): the printed ratio is then also
 * the median of the per-pair ratios — steadier than modes in turn when other work comes and goes.
 * `ON=metrics,ring` (default `metrics,ring,jsonl`) chooses what the `on` mode turns on, to split the cost.
 * `PROFILE_DIR=/tmp/p npm run bench:observability` also writes a V8 CPU profile of each measurement
 * window (`<mode>-<pid>.cpuprofile`, the window only: no start-up), to compare the hottest frames of the
 * two modes (the profiler's own cost is billed to both alike).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnNode } from '../test/harness/process';
import { Registry } from 'prom-client';
import { createJsonLinesHistory } from '../lib/history/json-lines-history';
import { createMemoryHistory } from '../lib/history/memory-history';
import { defineJob } from '../lib/job/define-job';
import { startWorker, type WorkerOptions } from '../lib/job/worker';
import { createRegistryCenter } from '../lib/registry/create-registry-center';
import { uniqueNamespace } from '../test/harness/namespace';
import { fmt, median, table } from './stats';

const REPS = Number(process.env.REPS ?? 5);
const WINDOW_S = Number(process.env.WINDOW_S ?? 5);
const JOBS = Number(process.env.JOBS ?? 10);
const ITEMS = Number(process.env.ITEMS ?? 100);
const PROFILE_DIR = process.env.PROFILE_DIR;
const PAIRED = process.env.PAIRED === '1';
/** How far ahead a paired window is set: both children must have started and settled by then. */
const PAIR_MARGIN_MS = Number(process.env.PAIR_MARGIN_MS ?? 12_000);
const ON = new Set((process.env.ON ?? 'metrics,ring,jsonl').split(','));

type Mode = 'off' | 'on';

interface Sample {
  mode: Mode;
  executionsPerS: number;
  cpuPercent: number;
  cpuUsPerExecution: number;
}

async function measure(mode: Mode, dir: string, windowAt?: number): Promise<Sample> {
  const registry = createRegistryCenter(`memory://${uniqueNamespace('bench')}`);
  await registry.init();
  const jobs = Array.from({ length: JOBS }, (_, j) =>
    defineJob({
      name: `obs-${j}`,
      cron: '* * * * * *',
      shardingTotalCount: ITEMS,
      misfire: false,
      execute: () => undefined,
    }),
  );
  const register = new Registry();
  const sinks = [
    ...(mode === 'on' && ON.has('ring') ? [createMemoryHistory()] : []),
    ...(mode === 'on' && ON.has('jsonl')
      ? [createJsonLinesHistory(join(dir, `history-${Date.now()}.jsonl`))]
      : []),
  ];
  const metrics = mode === 'on' && ON.has('metrics');
  const options: WorkerOptions = {
    registry,
    jobs,
    instanceId: 'bench',
    history: mode === 'on' ? sinks : false,
    ...(metrics ? { metrics: { register } } : {}),
  };
  const worker = await startWorker(options);
  let executions = 0;
  worker.on('executed', () => executions++);
  let scrape: NodeJS.Timeout | undefined;
  if (metrics) {
    scrape = setInterval(() => void register.metrics(), 1000);
  }
  try {
    // Settled and firing: every item assigned, then one fire seen.
    while (jobs.some(j => worker.items(j.name).length < ITEMS)) {
      await new Promise(resolve => worker.once('sharded', resolve));
    }
    for (let fires = 0; fires < 2; fires++) {
      const seen = executions;
      while (executions === seen) {
        await new Promise(resolve => worker.once('executed', resolve));
      }
      await sleep(1000 - (Date.now() % 1000));
    }
    // Start half-way between two fires so the window holds exactly WINDOW_S of them (paired: at the
    // second the parent chose, the same for both children).
    if (windowAt !== undefined && Date.now() > windowAt) {
      throw new Error(`not settled by the paired window (${Date.now() - windowAt} ms late)`);
    }
    await sleep(windowAt === undefined ? 1500 - (Date.now() % 1000) : windowAt - Date.now());
    const profiler = PROFILE_DIR === undefined ? undefined : await startProfile();
    const before = process.cpuUsage();
    const startedAt = process.hrtime.bigint();
    const count0 = executions;
    await sleep(WINDOW_S * 1000);
    const cpu = process.cpuUsage(before);
    const elapsedS = Number(process.hrtime.bigint() - startedAt) / 1e9;
    const counted = executions - count0;
    if (profiler !== undefined && PROFILE_DIR !== undefined) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(
        join(PROFILE_DIR, `${mode}-${process.pid}.cpuprofile`),
        JSON.stringify(profile),
      );
      profiler.disconnect();
    }
    const cpuUs = cpu.user + cpu.system;
    return {
      mode,
      executionsPerS: counted / elapsedS,
      cpuPercent: cpuUs / 1e4 / elapsedS,
      cpuUsPerExecution: counted === 0 ? NaN : cpuUs / counted,
    };
  } finally {
    clearInterval(scrape);
    await worker.stop({ timeoutMs: 5000 });
    await Promise.all(sinks.map(s => s.close()));
    await registry.close();
  }
}

async function startProfile(): Promise<Session> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return session;
}

/** One measurement in a fresh process; its result is the child's last stdout line (JSON). */
async function measureInChild(mode: Mode, windowAt?: number): Promise<Sample> {
  const child = spawnNode(__filename, [
    '--child',
    mode,
    ...(windowAt === undefined ? [] : [String(windowAt)]),
  ]);
  const code = await child.exited;
  const line = child.lines.drain().at(-1);
  if (code !== 0 || line === undefined) {
    throw new Error(`the ${mode} child failed (${String(code)}): ${child.stderr().slice(-2000)}`);
  }
  return JSON.parse(line) as Sample;
}

async function child(mode: Mode, windowAt?: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'shardline-bench-obs-'));
  try {
    console.log(JSON.stringify(await measure(mode, dir, windowAt)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One off and one on child at once, windows at the same second; a pair where a child had not settled by
 * then (a loaded machine) is run again with a wider margin, up to three times.
 */
async function measurePair(): Promise<[Sample, Sample]> {
  for (let attempt = 1; ; attempt++) {
    const margin = (PAIR_MARGIN_MS * (1 + attempt)) / 2;
    const windowAt = Math.ceil((Date.now() + margin) / 1000) * 1000 + 500;
    const [off, on] = await Promise.allSettled([
      measureInChild('off', windowAt),
      measureInChild('on', windowAt),
    ]);
    if (off.status === 'fulfilled' && on.status === 'fulfilled') {
      return [off.value, on.value];
    }
    const failure = [off, on].find(r => r.status === 'rejected')?.reason as Error;
    if (attempt === 3 || !/not settled by the paired window/.test(failure.message)) {
      throw failure;
    }
    process.stderr.write(`  a child was late for the paired window; again with a wider margin\n`);
  }
}

async function main(): Promise<void> {
  const samples: Sample[] = [];
  const pairRatios: number[] = [];
  process.stderr.write(
    `observability bench: ${JOBS} jobs × ${ITEMS} items every second, ${REPS} repetitions of ${WINDOW_S} s per mode${PAIRED ? ' (paired: off and on at once)' : ''}; on = ${[...ON].join(' + ')}\n`,
  );
  const show = (s: Sample): void => {
    process.stderr.write(
      `  ${s.mode}: ${fmt(s.executionsPerS, 0)} exec/s, CPU ${fmt(s.cpuPercent, 1)} %, ${fmt(s.cpuUsPerExecution, 1)} µs/exec\n`,
    );
  };
  for (let i = 0; i < REPS; i++) {
    if (PAIRED) {
      const [off, on] = await measurePair();
      samples.push(off, on);
      pairRatios.push(on.cpuUsPerExecution / off.cpuUsPerExecution);
      show(off);
      show(on);
      process.stderr.write(`  pair ratio ${fmt(pairRatios.at(-1) ?? NaN, 3)}\n`);
      continue;
    }
    for (const mode of ['off', 'on'] as const) {
      const s = await measureInChild(mode);
      samples.push(s);
      show(s);
    }
  }
  const rows = [['mode', 'executions/s', 'CPU % of a core', 'CPU µs / execution']];
  const med: Record<Mode, number> = { off: NaN, on: NaN };
  for (const mode of ['off', 'on'] as const) {
    const of = samples.filter(s => s.mode === mode);
    med[mode] = median(of.map(s => s.cpuUsPerExecution));
    rows.push([
      mode === 'off' ? 'without metrics + history' : 'with metrics + history',
      fmt(median(of.map(s => s.executionsPerS)), 0),
      fmt(median(of.map(s => s.cpuPercent)), 1),
      fmt(med[mode], 1),
    ]);
  }
  console.log(table(rows));
  const ratio = med.on / med.off;
  console.log(
    `with/without CPU per execution (medians of ${REPS}): ${fmt(ratio, 3)} (${fmt((ratio - 1) * 100, 1)} %; target < 5 %)`,
  );
  if (PAIRED) {
    const pr = median(pairRatios);
    console.log(
      `median of the ${REPS} pair ratios: ${fmt(pr, 3)} (${fmt((pr - 1) * 100, 1)} %); pairs ${pairRatios.map(r => fmt(r, 3)).join(' ')}`,
    );
  }
}

const childMode = process.argv[2] === '--child' ? process.argv[3] : undefined;
const childWindowAt = process.argv[4] === undefined ? undefined : Number(process.argv[4]);
(childMode === 'on' || childMode === 'off' ? child(childMode, childWindowAt) : main()).catch(
  err => {
    console.error(err);
    process.exit(1);
  },
);
