/**
 * RCU hash table: the kernel's rhashtable in its simplest honest form.
 *
 * A fixed array of buckets in arena memory; each bucket an RCU-protected singly linked
 * chain of *intrusive* entries: the entries are the user's own records (allocated from
 * a kmem cache, laid out with defineStruct) carrying a u32 key and a `next` pointer.
 *
 * Locking and ordering (read this before changing anything):
 * - Readers take no lock. They run inside `arena.rcu.read(...)` (or between
 *   readLock/readUnlock) and follow pointers with Atomics.load (rcu_dereference).
 * - Writers take the bucket's Atomics mutex. Only the lock holder writes a bucket head
 *   or the `next` of a reachable entry, and it writes them with Atomics.store
 *   (rcu_assign_pointer). A new entry is filled with plain stores *before* that
 *   publishing store, so a reader whose Atomics.load sees the pointer also sees the
 *   filled entry (seq-cst store -> load gives happens-before): no half-built entries.
 * - An unlinked entry keeps its `next`, so a reader standing on it finishes its walk;
 *   it is released with `arena.kfreeRcu(ptr)` (by default), so its memory is reused
 *   only after every reader that could have seen it has left its read section.
 * - No writer ever holds two bucket locks, and the allocator never takes a bucket lock,
 *   so allocating under a bucket lock (update) cannot deadlock.
 *
 * Counters (count, inserts, removes, replaces) are Atomics.add'ed under the bucket lock;
 * `count` equals inserts - removes whenever no writer is inside a bucket.
 */
import { lock, unlock } from '../sync/mutex.js';
import type { ArenaViews, Int32FieldOf, Struct, StructSpec } from '../struct.js';
import {
  B_HEAD, B_LOCK, BUCKET_WORDS, H_COUNT, H_ENTRY_SIZE, H_INSERTS, H_KEY_OFF, H_MAGIC, H_NBUCKETS, H_NEXT_OFF,
  H_REMOVES, H_REPLACES, H_SEED, HEADER_BYTES, MAX_BUCKETS, RHT_MAGIC, tableBytes,
} from './layout.js';

/** What the table needs from an arena (an `Arena` satisfies it). */
export interface RhtArena extends ArenaViews {
  /** Allocate the table's memory. */
  kmalloc(size: number): number;
  /** Free the table's memory (destroy). */
  kfree(ptr: number): void;
  /** Release an unlinked entry after a grace period (the default release). */
  kfreeRcu(ptr: number): void;
  /** The RCU handle: destroy waits for readers with it. */
  readonly rcu: {
    /** Block until pre-existing readers are done. */
    synchronize(): void;
    /** Wait for pre-existing readers without blocking. */
    synchronizeAsync(): Promise<void>;
  };
}

/** Options for {@link RcuHashTable.create}. */
export interface RhtOptions<S extends StructSpec> {
  /** The entry layout. */
  struct: Struct<S>;
  /** The u32 key field (i32/ptr fields work too: keys compare as 32-bit words). */
  key: Int32FieldOf<S>;
  /** The field that chains entries of one bucket (type 'ptr'). */
  next: Int32FieldOf<S>;
  /** Number of buckets, rounded up to a power of two (default 1024). */
  buckets?: number;
}

/** Per-handle options (they are closures, so each thread passes its own). */
export interface RhtHandleOptions {
  /**
   * How an unlinked entry is given back. Default `ptr => arena.kfreeRcu(ptr)`.
   * Whatever it does must wait for a grace period before the memory is reused.
   */
  release?: (ptr: number) => void;
}

/** Counters of a table, read without locks (each word is exact; together they may be a moment apart). */
export interface RhtStats {
  /** Number of buckets (a power of two). */
  buckets: number;
  /** Entries linked now. */
  count: number;
  /** Successful inserts so far. */
  inserts: number;
  /** Entries unlinked so far. */
  removes: number;
  /** Entries replaced (replace and update) so far. */
  replaces: number;
}

const HASH_MUL = 0x9e3779b1; // 2^32 / golden ratio (Knuth's multiplicative hashing)

/**
 * A handle to an RCU hash table in arena memory. Create it once, pass `table.ptr` to
 * other threads, and `RcuHashTable.attach(arena, ptr)` there.
 *
 * Safety contract: `lookup`, `forEach` and every use of the pointers they return must
 * happen inside an RCU read section; a pointer must not be used after the section ends.
 *
 * @example
 * ```ts
 * const Session = defineStruct({ id: 'u32', hits: 'u32', next: 'ptr' });
 * const cache = arena.createCache('session', { size: Session.size, align: Session.align });
 * const table = RcuHashTable.create(arena, { struct: Session, key: 'id', next: 'next' });
 * const p = cache.alloc(); Session.write(arena, p, { id: 1, hits: 0 }); table.insert(p);
 * arena.rcu.read(() => Session.get(arena, table.lookup(1), 'hits'));
 * table.update(1, () => cache.alloc(), (nw) => Session.set(arena, nw, 'hits', 1)); // old one: kfreeRcu
 * ```
 */
export class RcuHashTable {
  private readonly w: number; // word index of the header
  private readonly bucketBase: number; // word index of bucket 0
  private readonly mask: number;
  private readonly seed: number;
  private readonly keyOff: number;
  private readonly nextOff: number;
  private readonly entrySize: number;
  private readonly release: (ptr: number) => void;

  private constructor(
    private readonly arena: RhtArena,
    /** Arena byte offset of the table; send it to other threads to attach. */
    readonly ptr: number,
    opts: RhtHandleOptions,
  ) {
    const i32 = arena.i32;
    this.w = ptr >> 2;
    if ((ptr & 3) !== 0 || ptr <= 0 || Atomics.load(i32, this.w + H_MAGIC) !== RHT_MAGIC) {
      throw new Error(`slabrcu: no RCU hash table at ${ptr}`);
    }
    this.bucketBase = this.w + (HEADER_BYTES >> 2);
    this.mask = i32[this.w + H_NBUCKETS]! - 1;
    this.seed = i32[this.w + H_SEED]!;
    this.keyOff = i32[this.w + H_KEY_OFF]!;
    this.nextOff = i32[this.w + H_NEXT_OFF]!;
    this.entrySize = i32[this.w + H_ENTRY_SIZE]!;
    this.release = opts.release ?? ((p) => arena.kfreeRcu(p));
  }

  /** Allocate and initialise a table (kmalloc'd header and buckets). Throws when memory is exhausted. */
  static create<S extends StructSpec>(arena: RhtArena, opts: RhtOptions<S>, handle: RhtHandleOptions = {}): RcuHashTable {
    const { struct } = opts;
    const keyOff = struct.offsets[opts.key];
    const nextOff = struct.offsets[opts.next];
    const keyType = struct.field(opts.key).type;
    const nextType = struct.field(opts.next).type;
    if (keyType !== 'u32' && keyType !== 'i32' && keyType !== 'ptr') throw new TypeError(`RcuHashTable: key '${opts.key}' must be a 32-bit integer field`);
    if (nextType !== 'ptr') throw new TypeError(`RcuHashTable: next '${opts.next}' must be a 'ptr' field`);
    if (keyOff === nextOff) throw new TypeError('RcuHashTable: key and next must be different fields');
    const want = opts.buckets ?? 1024;
    if (!Number.isInteger(want) || want < 1 || want > MAX_BUCKETS) {
      throw new RangeError(`RcuHashTable: buckets must be an integer in 1..${MAX_BUCKETS}`);
    }
    let nb = 1;
    while (nb < want) nb <<= 1;
    const bytes = tableBytes(nb);
    const ptr = arena.kmalloc(bytes);
    if (ptr === 0) throw new Error(`slabrcu: out of memory allocating a hash table of ${nb} buckets (${bytes} bytes)`);
    const i32 = arena.i32;
    const w = ptr >> 2;
    arena.u8.fill(0, ptr, ptr + bytes); // kmalloc memory is not zeroed
    i32[w + H_NBUCKETS] = nb;
    i32[w + H_KEY_OFF] = keyOff;
    i32[w + H_NEXT_OFF] = nextOff;
    i32[w + H_ENTRY_SIZE] = struct.size;
    i32[w + H_SEED] = (Math.random() * 0x100000000) | 0;
    // The magic is published last: a thread that attaches with a pointer it received
    // (postMessage orders after this store anyway) never sees a half-made header.
    Atomics.store(i32, w + H_MAGIC, RHT_MAGIC);
    return new RcuHashTable(arena, ptr, handle);
  }

  /** A handle to an existing table, in any thread of the arena. */
  static attach(arena: RhtArena, ptr: number, handle: RhtHandleOptions = {}): RcuHashTable {
    return new RcuHashTable(arena, ptr, handle);
  }

  /** Number of buckets. */
  get buckets(): number {
    return this.mask + 1;
  }

  /** Entries linked now. */
  get count(): number {
    return Atomics.load(this.arena.i32, this.w + H_COUNT);
  }

  /** The table's counters, read without locks. */
  stats(): RhtStats {
    const i32 = this.arena.i32;
    return {
      buckets: this.mask + 1,
      count: Atomics.load(i32, this.w + H_COUNT),
      inserts: Atomics.load(i32, this.w + H_INSERTS),
      removes: Atomics.load(i32, this.w + H_REMOVES),
      replaces: Atomics.load(i32, this.w + H_REPLACES),
    };
  }

  /** The word index of the bucket head for a key. */
  private bucket(key: number): number {
    let h = Math.imul((key ^ this.seed) | 0, HASH_MUL);
    h ^= h >>> 15;
    return this.bucketBase + (h & this.mask) * BUCKET_WORDS;
  }

  private checkLive(): void {
    if (Atomics.load(this.arena.i32, this.w + H_MAGIC) !== RHT_MAGIC) throw new Error('slabrcu: RCU hash table used after destroy');
  }

  /**
   * The entry with this key, or 0 (rhashtable_lookup). Call inside an RCU read section;
   * the entry stays valid (not freed, not reused) until the section ends.
   */
  lookup(key: number): number {
    const i32 = this.arena.i32;
    const u32 = this.arena.u32;
    const k = key >>> 0;
    const kw = this.keyOff >> 2;
    const nw = this.nextOff >> 2;
    let p = Atomics.load(i32, this.bucket(key) + B_HEAD);
    while (p !== 0) {
      if (u32[(p >> 2) + kw] === k) return p;
      p = Atomics.load(i32, (p >> 2) + nw);
    }
    return 0;
  }

  /** Call fn for every entry (inside an RCU read section). Entries inserted or removed meanwhile may or may not be seen. */
  forEach(fn: (ptr: number) => void): void {
    const i32 = this.arena.i32;
    const nw = this.nextOff >> 2;
    for (let b = 0; b <= this.mask; b++) {
      let p = Atomics.load(i32, this.bucketBase + b * BUCKET_WORDS + B_HEAD);
      while (p !== 0) {
        fn(p);
        p = Atomics.load(i32, (p >> 2) + nw);
      }
    }
  }

  /**
   * Link a filled entry (rhashtable_insert_fast). Returns false, linking nothing, when
   * an entry with the same key is already there: the caller still owns `entry` then.
   */
  insert(entry: number): boolean {
    this.checkLive();
    const i32 = this.arena.i32;
    const key = this.arena.u32[(entry + this.keyOff) >> 2]!;
    const b = this.bucket(key);
    lock(i32, b + B_LOCK);
    try {
      if (this.findLocked(b, key) !== 0) return false;
      // Not yet reachable: a plain store would do, Atomics.store documents the rule.
      Atomics.store(i32, (entry + this.nextOff) >> 2, i32[b + B_HEAD]!);
      Atomics.store(i32, b + B_HEAD, entry); // publish
      Atomics.add(i32, this.w + H_COUNT, 1);
      Atomics.add(i32, this.w + H_INSERTS, 1);
      return true;
    } finally {
      unlock(i32, b + B_LOCK);
    }
  }

  /** Unlink the entry with this key and release it (kfreeRcu). False when absent. */
  remove(key: number): boolean {
    const p = this.unlink(key);
    if (p === 0) return false;
    this.release(p);
    return true;
  }

  /**
   * Unlink the entry with this key without releasing it; returns it (0 when absent).
   * The caller must wait for a grace period (or kfreeRcu it) before reusing it.
   */
  unlink(key: number): number {
    this.checkLive();
    const i32 = this.arena.i32;
    const b = this.bucket(key);
    lock(i32, b + B_LOCK);
    try {
      const link = this.findLinkLocked(b, key >>> 0);
      if (link < 0) return 0;
      const p = i32[link]!;
      Atomics.store(i32, link, i32[(p + this.nextOff) >> 2]!); // readers on p still see p.next
      Atomics.sub(i32, this.w + H_COUNT, 1);
      Atomics.add(i32, this.w + H_REMOVES, 1);
      return p;
    } finally {
      unlock(i32, b + B_LOCK);
    }
  }

  /**
   * Put `entry` in the place of `old` (rhashtable_replace_fast) and release `old`.
   * Both must carry the same key. Returns false when `old` is no longer linked (another
   * writer removed or replaced it): then nothing changed and the caller still owns `entry`.
   */
  replace(old: number, entry: number): boolean {
    this.checkLive();
    const i32 = this.arena.i32;
    const u32 = this.arena.u32;
    const key = u32[(old + this.keyOff) >> 2]!;
    if (u32[(entry + this.keyOff) >> 2] !== key) throw new Error('RcuHashTable.replace: the new entry has a different key');
    const b = this.bucket(key);
    lock(i32, b + B_LOCK);
    try {
      const link = this.findLinkLocked(b, key);
      if (link < 0 || i32[link] !== old) return false;
      this.swapLocked(link, old, entry);
    } finally {
      unlock(i32, b + B_LOCK);
    }
    this.release(old);
    return true;
  }

  /**
   * Copy, update, publish: under the bucket lock, take a new entry from `alloc`, copy the
   * current one into it, let `mutate(newPtr, oldPtr)` change it (not the key), link it in
   * the old one's place and release the old one. Returns the new entry, or 0 when the key
   * is absent or `alloc` returned 0 (nothing changed then).
   */
  update(key: number, alloc: () => number, mutate: (entry: number, old: number) => void): number {
    this.checkLive();
    const a = this.arena;
    const i32 = a.i32;
    const k = key >>> 0;
    const b = this.bucket(key);
    let old = 0;
    let entry = 0;
    lock(i32, b + B_LOCK);
    try {
      const link = this.findLinkLocked(b, k);
      if (link < 0) return 0;
      old = i32[link]!;
      entry = alloc();
      if (entry === 0) return 0;
      a.u8.copyWithin(entry, old, old + this.entrySize);
      mutate(entry, old);
      if (a.u32[(entry + this.keyOff) >> 2] !== k) {
        throw new Error('RcuHashTable.update: mutate changed the key');
      }
      this.swapLocked(link, old, entry);
    } finally {
      unlock(i32, b + B_LOCK);
    }
    this.release(old);
    return entry;
  }

  /** Unlink and release every entry; returns how many. Concurrent inserts may survive. */
  clear(): number {
    this.checkLive();
    const i32 = this.arena.i32;
    let n = 0;
    for (let bi = 0; bi <= this.mask; bi++) {
      const b = this.bucketBase + bi * BUCKET_WORDS;
      if (Atomics.load(i32, b + B_HEAD) === 0) continue;
      lock(i32, b + B_LOCK);
      let p: number;
      try {
        // Detach the whole chain at once; readers on it keep walking the old chain.
        p = i32[b + B_HEAD]!;
        Atomics.store(i32, b + B_HEAD, 0);
        let m = 0;
        for (let q = p; q !== 0; q = i32[(q + this.nextOff) >> 2]!) m++;
        Atomics.sub(i32, this.w + H_COUNT, m);
        Atomics.add(i32, this.w + H_REMOVES, m);
      } finally {
        unlock(i32, b + B_LOCK);
      }
      // Released after the chain is unreachable; read each next before releasing its
      // entry (kfreeRcu keeps the memory intact for a grace period, but a custom release
      // may not).
      while (p !== 0) {
        const next = i32[(p + this.nextOff) >> 2]!;
        this.release(p);
        p = next;
        n++;
      }
    }
    return n;
  }

  /**
   * Release every entry and the table itself. Blocks for one grace period (the buckets
   * may still be read by readers in flight). Other handles throw afterwards.
   */
  destroy(): number {
    const n = this.retire();
    this.arena.rcu.synchronize();
    this.arena.kfree(this.ptr);
    return n;
  }

  /** destroy() without blocking the event loop. */
  async destroyAsync(): Promise<number> {
    const n = this.retire();
    await this.arena.rcu.synchronizeAsync();
    this.arena.kfree(this.ptr);
    return n;
  }

  private retire(): number {
    const n = this.clear();
    // After this store no writer enters (checkLive); a writer that passed its check
    // before is serialised by the bucket lock, and clear() above emptied every bucket.
    Atomics.store(this.arena.i32, this.w + H_MAGIC, 0);
    return n;
  }

  private findLocked(b: number, key: number): number {
    const link = this.findLinkLocked(b, key);
    return link < 0 ? 0 : this.arena.i32[link]!;
  }

  /** Word index of the link (bucket head or a `next`) that points at the entry with key, or -1. */
  private findLinkLocked(b: number, key: number): number {
    const i32 = this.arena.i32;
    const u32 = this.arena.u32;
    let link = b + B_HEAD;
    let p = i32[link]!;
    while (p !== 0) {
      if (u32[(p + this.keyOff) >> 2] === key) return link;
      link = (p + this.nextOff) >> 2;
      p = i32[link]!;
    }
    return -1;
  }

  private swapLocked(link: number, old: number, entry: number): void {
    const i32 = this.arena.i32;
    Atomics.store(i32, (entry + this.nextOff) >> 2, i32[(old + this.nextOff) >> 2]!);
    Atomics.store(i32, link, entry); // publish: readers see either old or the whole new entry
    Atomics.add(i32, this.w + H_REPLACES, 1);
  }
}
