import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The console's front end: plain HTML, CSS and JavaScript files (no build step, nothing from a CDN) in
 * `lib/console/assets/`, which the package ships as they are (package.json `files`). Found next to this
 * module when it runs from source, and in the package's `lib/console/assets` when it runs from `dist/`.
 */

export interface Asset {
  body: Buffer;
  contentType: string;
}

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

let loaded: Map<string, Asset> | undefined;

function assetsDir(): string {
  const candidates = [
    join(__dirname, 'assets'),
    join(__dirname, '..', '..', 'lib', 'console', 'assets'),
  ];
  const dir = candidates.find(d => existsSync(join(d, 'index.html')));
  if (dir === undefined) {
    throw new Error(`the console's assets are missing (looked in ${candidates.join(', ')})`);
  }
  return dir;
}

/** The asset named `name` (`index.html`, `app.js`, `app.css`), or undefined for any other name. */
export function consoleAsset(name: string): Asset | undefined {
  if (loaded === undefined) {
    const dir = assetsDir();
    loaded = new Map(
      Object.entries(TYPES).map(([file, contentType]) => [
        file,
        { body: readFileSync(join(dir, file)), contentType },
      ]),
    );
  }
  return loaded.get(name);
}
