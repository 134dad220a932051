/**
 * The error of Arena.attach(x) when x is not an arena's SharedArrayBuffer: what it got
 * (type; for objects their keys) and how to fix it. Pools often wrap workerData
 * (tinypool passes `[tinypoolPrivateData, yourWorkerData]`), and a plain object such as
 * `{ sab, ctl }` is the usual first mistake: when an arena buffer is found one or two
 * levels inside x, the message names the expression that reaches it.
 */
import { MAGIC, PAGE_SIZE } from '../layout.js';

const isArenaBuffer = (x: unknown): x is SharedArrayBuffer =>
  x instanceof SharedArrayBuffer && x.byteLength >= PAGE_SIZE && new Int32Array(x, 0, 1)[0] === MAGIC;

const article = (word: string): string => (/^[AEIOUaeiou]/.test(word) ? 'an' : 'a');

/** A short description of a value's type: "undefined", "an array of 2 items", "an object with keys {sab, ctl}". */
export function describeValue(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (x instanceof SharedArrayBuffer) return `a SharedArrayBuffer of ${x.byteLength} bytes that is not a slabrcu arena`;
  if (x instanceof ArrayBuffer) return `an ArrayBuffer of ${x.byteLength} bytes (not shared: it was copied, not shared, on its way to this thread)`;
  if (ArrayBuffer.isView(x)) return `${article(x.constructor.name)} ${x.constructor.name} (a view; the arena is its .buffer)`;
  if (Array.isArray(x)) {
    const items = x.slice(0, 4).map((v) => (v === null ? 'null' : v instanceof SharedArrayBuffer ? 'SharedArrayBuffer' : Array.isArray(v) ? 'array' : typeof v));
    return `an array of ${x.length} item${x.length === 1 ? '' : 's'} [${items.join(', ')}${x.length > 4 ? ', …' : ''}]`;
  }
  if (typeof x === 'object') {
    const keys = Object.keys(x);
    const shown = keys.slice(0, 8).join(', ') + (keys.length > 8 ? `, … (${keys.length} keys)` : '');
    const ctor = (x as object).constructor?.name;
    return `${ctor && ctor !== 'Object' ? `${article(ctor)} ${ctor}` : 'an object'} with keys {${shown}}`;
  }
  if (typeof x === 'string') return `a string (${JSON.stringify(x.length > 40 ? x.slice(0, 40) + '…' : x)})`;
  return `${article(typeof x)} ${typeof x} (${String(x)})`;
}

/** Where an arena buffer sits inside x, one or two levels down: "[1]", ".sab", "[1].sab". */
export function findArenaPath(x: unknown, depth = 2): string | undefined {
  if (depth === 0 || x === null || typeof x !== 'object' || x instanceof SharedArrayBuffer || ArrayBuffer.isView(x)) return undefined;
  const entries: [string, unknown][] = Array.isArray(x)
    ? x.slice(0, 16).map((v, i) => [`[${i}]`, v])
    : Object.keys(x).slice(0, 32).map((k) => [/^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`, (x as Record<string, unknown>)[k]]);
  for (const [p, v] of entries) if (isArenaBuffer(v)) return p;
  for (const [p, v] of entries) {
    const sub = findArenaPath(v, depth - 1);
    if (sub !== undefined) return p + sub;
  }
  return undefined;
}

/** The whole message for Arena.attach(x). */
export function attachArgError(x: unknown): string {
  const got = describeValue(x);
  const path = findArenaPath(x);
  let fix: string;
  if (path !== undefined) {
    fix = `an arena buffer is at workerData${path}: call Arena.attach(workerData${path})`;
    if (path.startsWith('[1]') && Array.isArray(x) && x.length === 2) {
      fix += " (tinypool passes workerData as [tinypoolData, yourWorkerData]; Tinypool.workerData from 'tinypool' is yours)";
    }
  } else if (x instanceof SharedArrayBuffer) {
    fix = 'pass arena.sab of an arena made by Arena.create() (a buffer of your own, or one the arena was not created in, is refused)';
  } else if (x === undefined) {
    fix = 'workerData is undefined in this thread? Give the buffer to the worker: new Worker(file, { workerData: arena.sab }), or the pool\'s workerData option';
  } else if (ArrayBuffer.isView(x)) {
    fix = 'pass the view\'s .buffer (arena.sab), not the view';
  } else {
    fix = 'pass arena.sab, the SharedArrayBuffer of the arena (send it to workers in workerData or postMessage; it is shared, not copied)';
  }
  return `slabrcu: Arena.attach(sab): sab must be the SharedArrayBuffer of an arena (arena.sab); got ${got}. Fix: ${fix}`;
}
