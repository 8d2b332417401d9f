/**
 * A configuration watcher, on the embedded registry:
 *   npx tsx examples/recipes-config.ts [registry-url]
 * Changes arrive as 'changed' events with the old and new value; bad data is reported and the last good
 * value kept.
 */
import { createRegistryCenter, watchConfig } from '../lib';

interface RateLimits {
  perSecond: number;
}

function parse(raw: string): RateLimits {
  const value = JSON.parse(raw) as Partial<RateLimits>;
  if (typeof value.perSecond !== 'number') {
    throw new Error('perSecond must be a number');
  }
  return { perSecond: value.perSecond };
}

async function main(): Promise<void> {
  const url = process.argv[2] ?? 'memory://recipes-config';
  const operator = createRegistryCenter(url);
  const app = createRegistryCenter(url);
  await Promise.all([operator.init(), app.init()]);
  try {
    await operator.persist('/config/rate-limits', '{"perSecond": 10}');
    const config = await watchConfig(app, '/config/rate-limits', {
      parse,
      resyncIntervalMs: 10_000,
    });
    console.log(`start with ${config.value?.perSecond}/s`);
    const next = () => new Promise<void>(resolve => config.once('changed', () => resolve()));
    config.on('changed', ({ value, previous, version }) =>
      console.log(`changed (v${version}): ${previous?.perSecond}/s -> ${value?.perSecond}/s`),
    );
    const bad = new Promise<void>(resolve =>
      config.once('error', err => {
        console.log(`rejected: ${err.message}; still ${config.value?.perSecond}/s`);
        resolve();
      }),
    );
    let changed = next();
    await operator.update('/config/rate-limits', '{"perSecond": 50}');
    await changed;
    await operator.update('/config/rate-limits', '{"perSecond": "lots"}');
    await bad;
    changed = next();
    await operator.update('/config/rate-limits', '{"perSecond": 20}');
    await changed;
    await config.close();
  } finally {
    await Promise.all([operator.close(), app.close()]);
  }
}

void main();
