/**
 * The demo's record: a "session" in a kmem cache, chained in an RCU hash table.
 *
 * Every session carries a magic word and a check word derived from (id, version,
 * hits), written before the session is published. A reader that ever saw a freed
 * session (poisoned or reused memory) or a half-built one would find a wrong magic or
 * a check that does not match: the demo and the tests count those as errors, and the
 * count must stay 0.
 */
import { defineStruct, type ArenaViews } from '../struct.js';

export const Session = defineStruct({
  id: 'u32',
  version: 'u32',
  hits: 'u32',
  owner: 'u32', // worker that made this version
  magic: 'u32',
  check: 'u32',
  lastSeen: 'f64',
  score: 'f64',
  next: 'ptr',
});

export const SESSION_MAGIC = 0x5e551075;
export const SESSION_CACHE = 'session';

/** The check word of a session version (a cheap hash; any corruption changes it). */
export function sessionCheck(id: number, version: number, hits: number): number {
  let h = Math.imul(id ^ 0x2545f491, 0x9e3779b1);
  h = Math.imul(h ^ version ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ hits ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const O = Session.offsets;

/** Fill a new session (before it is published). */
export function initSession(v: ArenaViews, p: number, id: number, owner: number): void {
  const w = p >> 2;
  v.u32[w + (O.id >> 2)] = id;
  v.u32[w + (O.version >> 2)] = 1;
  v.u32[w + (O.hits >> 2)] = 0;
  v.u32[w + (O.owner >> 2)] = owner;
  v.u32[w + (O.magic >> 2)] = SESSION_MAGIC;
  v.u32[w + (O.check >> 2)] = sessionCheck(id, 1, 0);
  v.f64[(p + O.lastSeen) >> 3] = Date.now();
  v.f64[(p + O.score) >> 3] = 0;
  v.u32[w + (O.next >> 2)] = 0;
}

/** The mutation of copy-update-publish: a new version of a copied session. */
export function touchSession(v: ArenaViews, p: number, owner: number): void {
  const w = p >> 2;
  const id = v.u32[w + (O.id >> 2)]!;
  const version = (v.u32[w + (O.version >> 2)]! + 1) >>> 0;
  const hits = (v.u32[w + (O.hits >> 2)]! + 1) >>> 0;
  v.u32[w + (O.version >> 2)] = version;
  v.u32[w + (O.hits >> 2)] = hits;
  v.u32[w + (O.owner >> 2)] = owner;
  v.u32[w + (O.check >> 2)] = sessionCheck(id, version, hits);
  v.f64[(p + O.lastSeen) >> 3] = Date.now();
  v.f64[(p + O.score) >> 3] += 1;
}

/**
 * Reader side: is the session at p a whole, live session with this id? False means a
 * reader saw freed, reused or half-built memory: an RCU violation.
 */
export function sessionValid(v: ArenaViews, p: number, id: number): boolean {
  const w = p >> 2;
  if (v.u32[w + (O.magic >> 2)] !== SESSION_MAGIC) return false;
  if (v.u32[w + (O.id >> 2)] !== id >>> 0) return false;
  return v.u32[w + (O.check >> 2)] === sessionCheck(id, v.u32[w + (O.version >> 2)]!, v.u32[w + (O.hits >> 2)]!);
}
