import { InvalidPathError } from '../errors';

/**
 * Node paths are absolute, '/'-separated, without a trailing slash ('/' itself is the namespace root).
 * Pure helpers; every registry call validates its path here so that all backends reject the same input.
 */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;

/** Throws {@link InvalidPathError} naming the path unless it is a valid absolute node path. */
export function validatePath(path: unknown): string {
  if (typeof path !== 'string') {
    throw new InvalidPathError(String(path), 'a path must be a string');
  }
  if (path.length === 0) {
    throw new InvalidPathError(path, 'a path must not be empty');
  }
  if (!path.startsWith('/')) {
    throw new InvalidPathError(path, "a path must be absolute (start with '/')");
  }
  if (path.length > 1 && path.endsWith('/')) {
    throw new InvalidPathError(path, 'a path must not end with a slash');
  }
  if (path.includes('//')) {
    throw new InvalidPathError(path, "a path must not contain an empty segment ('//')");
  }
  if (CONTROL.test(path)) {
    throw new InvalidPathError(path, 'a path must not contain control characters');
  }
  if (DOT_SEGMENT.test(path)) {
    throw new InvalidPathError(path, "a path must not contain '.' or '..' segments");
  }
  return path;
}

/** Like {@link validatePath} but also rejects the root, for operations that need a named node. */
export function validateNodePath(path: unknown): string {
  const valid = validatePath(path);
  if (valid === '/') {
    throw new InvalidPathError(valid, 'the namespace root cannot be used here');
  }
  return valid;
}

/** Throws unless `name` is usable as one path segment (no slash, no control characters). */
export function validateSegment(name: string, what = 'name'): string {
  if (
    name.length === 0 ||
    name.includes('/') ||
    CONTROL.test(name) ||
    name === '.' ||
    name === '..'
  ) {
    throw new InvalidPathError(name, `${what} must be a single non-empty path segment`);
  }
  return name;
}

export function joinPath(parent: string, ...segments: string[]): string {
  let out = parent === '/' ? '' : parent;
  for (const s of segments) {
    out += '/' + s;
  }
  return out === '' ? '/' : out;
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Ancestors from the top down, excluding '/' and `path` itself: '/a/b/c' → ['/a', '/a/b']. */
export function ancestorsOf(path: string): string[] {
  const out: string[] = [];
  let i = path.indexOf('/', 1);
  while (i !== -1) {
    out.push(path.slice(0, i));
    i = path.indexOf('/', i + 1);
  }
  return out;
}

/** True when `path` is `root` or lies below it. */
export function isUnder(path: string, root: string): boolean {
  if (root === '/') {
    return true;
  }
  return path === root || (path.startsWith(root) && path.charCodeAt(root.length) === 47); /* '/' */
}

/** Sequential suffix: 10 zero-padded digits, as on ZooKeeper. */
export function sequentialName(prefix: string, counter: number): string {
  return prefix + String(counter).padStart(10, '0');
}
