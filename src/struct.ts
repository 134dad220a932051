/**
 * Struct layouts: C-like records in arena memory.
 *
 * `defineStruct({ key: 'u32', value: 'f64', next: 'ptr' })` lays the fields out in the
 * order given, each at its natural alignment (the size of its type), and rounds the
 * total size up to the largest alignment, exactly as a C compiler does for
 * `struct { u32 key; double value; u32 next; }` (size 24, align 8). The result feeds
 * `arena.createCache(name, { size: S.size, align: S.align })`.
 *
 * Accessors read and write through the arena's views. They take the views object
 * (an `Arena` is one) at each call rather than capturing typed arrays, because a
 * growable arena may hand out new views, and a struct definition is shared by every
 * thread (a Worker defines the same struct and gets the same offsets).
 *
 * Alignment contract: slab objects are at least 8-byte aligned and the cache must be
 * created with `align: S.align`, so `ptr + offset` is always a multiple of the
 * field's size and the typed-array fast paths (`f64[(p + off) >> 3]`) are exact.
 * Types without a view of their own in the arena (i8, u16, i16, f32) go through the
 * DataView in little-endian order, the byte order of every platform that runs
 * Node or a browser with SharedArrayBuffer (typed arrays use the platform order).
 *
 * 32-bit integer fields (u32, i32, ptr) also have `load`/`store`: `Atomics.load` and
 * `Atomics.store`. `store` is how a writer publishes a pointer under RCU
 * (`rcu_assign_pointer`): every plain write made before it is visible to a reader
 * whose `load` (`rcu_dereference`) returns the new value.
 *
 * Core-safe: no `node:` imports.
 */

/** Field types: sizes 1, 1, 2, 2, 4, 4, 4, 8 and 4 bytes. `ptr` is an arena byte offset (u32, 0 = NULL). */
export type FieldType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64' | 'ptr';

/** Field name -> type, in layout order. */
export type StructSpec = Readonly<Record<string, FieldType>>;

/** The views a struct accessor needs; an `Arena` satisfies it. */
export interface ArenaViews {
  /** Byte view of the arena. */
  readonly u8: Uint8Array;
  /** Int32 view of the arena (word index = byte offset >> 2). */
  readonly i32: Int32Array;
  /** Uint32 view of the arena. */
  readonly u32: Uint32Array;
  /** Float64 view of the arena (index = byte offset >> 3). */
  readonly f64: Float64Array;
  /** DataView of the arena (little-endian accesses at any offset). */
  readonly dv: DataView;
}

/** Names of the fields whose type is a 32-bit integer (these support atomic load/store). */
export type Int32FieldOf<S extends StructSpec> = {
  [K in keyof S]: S[K] extends 'u32' | 'i32' | 'ptr' ? K : never;
}[keyof S] &
  string;

/** A reusable accessor for one field: faster than `get(views, ptr, name)` in hot loops. */
export interface FieldAccessor {
  /** Field name. */
  readonly name: string;
  /** Field type. */
  readonly type: FieldType;
  /** Byte offset in the record. */
  readonly offset: number;
  /** Size in bytes. */
  readonly size: number;
  /** Read the field of the record at `ptr`. */
  get(views: ArenaViews, ptr: number): number;
  /** Write the field of the record at `ptr`. */
  set(views: ArenaViews, ptr: number, value: number): void;
}

/** A field accessor with atomic load/store (u32, i32, ptr). */
export interface AtomicFieldAccessor extends FieldAccessor {
  /** Atomics.load of the field (`rcu_dereference`, `READ_ONCE`). */
  load(views: ArenaViews, ptr: number): number;
  /** Atomics.store of the field (`rcu_assign_pointer`, `WRITE_ONCE`). */
  store(views: ArenaViews, ptr: number, value: number): void;
}

/**
 * A movable view of one record: a property per field. Re-point it with `ptr` to walk
 * many records without allocating a view per record.
 */
export type StructView<S extends StructSpec> = { -readonly [K in keyof S]: number } & {
  /** The record the view reads and writes; assign to re-point it. */
  ptr: number;
};

/** A C-like record layout made by {@link defineStruct}, with accessors over an arena's views. */
export interface Struct<S extends StructSpec> {
  /** Size in bytes, a multiple of `align` (C `sizeof`). */
  readonly size: number;
  /** Largest field alignment (C `_Alignof`). */
  readonly align: number;
  /** Byte offset of each field (C `offsetof`). */
  readonly offsets: Readonly<{ [K in keyof S]: number }>;
  /** The field names in layout order. */
  readonly fields: readonly (keyof S & string)[];
  /** Read one field of the record at `ptr`. */
  get(views: ArenaViews, ptr: number, field: keyof S & string): number;
  /** Write one field of the record at `ptr`. */
  set(views: ArenaViews, ptr: number, field: keyof S & string, value: number): void;
  /** Atomics.load of a 32-bit integer field (`rcu_dereference`, `READ_ONCE`). */
  load(views: ArenaViews, ptr: number, field: Int32FieldOf<S>): number;
  /** Atomics.store of a 32-bit integer field (`rcu_assign_pointer`, `WRITE_ONCE`). */
  store(views: ArenaViews, ptr: number, field: Int32FieldOf<S>, value: number): void;
  /** The accessor for one field, to hoist out of a loop. */
  field(name: keyof S & string): FieldAccessor;
  /** The atomic accessor for a 32-bit integer field. */
  atomicField(name: Int32FieldOf<S>): AtomicFieldAccessor;
  /** Write the given fields (others untouched). */
  write(views: ArenaViews, ptr: number, values: Partial<{ [K in keyof S]: number }>): void;
  /** Read every field into a plain object. */
  read(views: ArenaViews, ptr: number): { [K in keyof S]: number };
  /** Copy a whole record (`*dst = *src`); used by copy-update-publish writers. */
  copy(views: ArenaViews, dst: number, src: number): void;
  /** Zero a whole record. */
  clear(views: ArenaViews, ptr: number): void;
  /** A view object over the record at `ptr` (property get/set per field). */
  view(views: ArenaViews, ptr?: number): StructView<S>;
}

const SIZES: Readonly<Record<FieldType, number>> = {
  u8: 1,
  i8: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  f64: 8,
  ptr: 4,
};

const FIELD_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
// Names that would shadow the view's own members or Object.prototype.
const RESERVED = new Set(['ptr', 'views', '__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty']);

function makeAccessor(name: string, type: FieldType, offset: number): FieldAccessor | AtomicFieldAccessor {
  const size = SIZES[type];
  const base = { name, type, offset, size };
  // One closure per field and type, so a hot loop pays one indexed access and no switch.
  switch (type) {
    case 'u8':
      return { ...base, get: (v, p) => v.u8[p + offset]!, set: (v, p, x) => void (v.u8[p + offset] = x) };
    case 'i8':
      return { ...base, get: (v, p) => v.dv.getInt8(p + offset), set: (v, p, x) => v.dv.setInt8(p + offset, x) };
    case 'u16':
      return {
        ...base,
        get: (v, p) => v.dv.getUint16(p + offset, true),
        set: (v, p, x) => v.dv.setUint16(p + offset, x, true),
      };
    case 'i16':
      return {
        ...base,
        get: (v, p) => v.dv.getInt16(p + offset, true),
        set: (v, p, x) => v.dv.setInt16(p + offset, x, true),
      };
    case 'f32':
      return {
        ...base,
        get: (v, p) => v.dv.getFloat32(p + offset, true),
        set: (v, p, x) => v.dv.setFloat32(p + offset, x, true),
      };
    case 'f64':
      return { ...base, get: (v, p) => v.f64[(p + offset) >> 3]!, set: (v, p, x) => void (v.f64[(p + offset) >> 3] = x) };
    case 'i32':
      return {
        ...base,
        get: (v, p) => v.i32[(p + offset) >> 2]!,
        set: (v, p, x) => void (v.i32[(p + offset) >> 2] = x),
        load: (v, p) => Atomics.load(v.i32, (p + offset) >> 2),
        store: (v, p, x) => void Atomics.store(v.i32, (p + offset) >> 2, x),
      };
    case 'u32':
    case 'ptr':
      return {
        ...base,
        get: (v, p) => v.u32[(p + offset) >> 2]!,
        set: (v, p, x) => void (v.u32[(p + offset) >> 2] = x),
        load: (v, p) => Atomics.load(v.u32, (p + offset) >> 2),
        store: (v, p, x) => void Atomics.store(v.u32, (p + offset) >> 2, x),
      };
  }
}

function isAtomic(a: FieldAccessor): a is AtomicFieldAccessor {
  return 'load' in a;
}

/** A laid-out spec: each field's offset and accessor, the size and the alignment (C's rules). */
interface Layout {
  names: string[];
  accessors: Map<string, FieldAccessor>;
  offsets: Record<string, number>;
  size: number;
  align: number;
}

/** Lay the fields out in order, each at its natural alignment, the size rounded up to the largest (throws on a bad name or type). */
function layOut(spec: StructSpec): Layout {
  const names = Object.keys(spec);
  if (names.length === 0) throw new TypeError('defineStruct: a struct needs at least one field');
  const accessors = new Map<string, FieldAccessor>();
  const offsets: Record<string, number> = {};
  let off = 0;
  let align = 1;
  for (const name of names) {
    if (!FIELD_NAME.test(name) || RESERVED.has(name)) {
      throw new TypeError(`defineStruct: invalid field name '${name}'`);
    }
    const type = spec[name] as FieldType;
    const size = SIZES[type];
    if (size === undefined || !Object.prototype.hasOwnProperty.call(SIZES, type)) {
      throw new TypeError(`defineStruct: field '${name}' has unknown type '${String(type)}' (use ${Object.keys(SIZES).join(', ')})`);
    }
    off = (off + size - 1) & ~(size - 1); // natural alignment
    offsets[name] = off;
    accessors.set(name, makeAccessor(name, type, off));
    off += size;
    if (size > align) align = size;
  }
  return { names, accessors, offsets, size: (off + align - 1) & ~(align - 1), align };
}

/** The accessor lookups by name: any field, and a 32-bit integer field for atomic access (each throws on a wrong name). */
function accessorLookups(accessors: Map<string, FieldAccessor>): { acc: (name: string) => FieldAccessor; atomicAcc: (name: string) => AtomicFieldAccessor } {
  const acc = (name: string): FieldAccessor => {
    const a = accessors.get(name);
    if (!a) throw new TypeError(`struct has no field '${name}'`);
    return a;
  };
  const atomicAcc = (name: string): AtomicFieldAccessor => {
    const a = acc(name);
    if (!isAtomic(a)) throw new TypeError(`field '${name}' is ${a.type}: atomic access needs u32, i32 or ptr`);
    return a;
  };
  return { acc, atomicAcc };
}

/** The view's constructor over the shared views; its prototype gets one accessor property per field. */
type ViewClass = new (views: ArenaViews, ptr: number) => { readonly views: ArenaViews; ptr: number };

/**
 * The view class: one accessor property per field on a shared prototype, so a view is one
 * small object ({ ptr, views }) however many fields the struct has.
 */
function viewClass(list: readonly FieldAccessor[]): ViewClass {
  class View {
    constructor(
      readonly views: ArenaViews,
      public ptr: number,
    ) {}
  }
  for (const a of list) {
    Object.defineProperty(View.prototype, a.name, {
      get(this: View) {
        return a.get(this.views, this.ptr);
      },
      set(this: View, x: number) {
        a.set(this.views, this.ptr, x);
      },
      enumerable: true,
    });
  }
  return View;
}

/**
 * Define a C-like record layout.
 *
 * ```ts
 * const Session = defineStruct({ id: 'u32', hits: 'u32', score: 'f64', next: 'ptr' });
 * const cache = arena.createCache('session', { size: Session.size, align: Session.align });
 * const p = cache.alloc();
 * Session.write(arena, p, { id: 7, hits: 0, score: 1.5, next: 0 });
 * Session.get(arena, p, 'score'); // 1.5
 * ```
 *
 * Throws on an empty spec, an invalid field name, or an unknown type.
 */
export function defineStruct<const S extends StructSpec>(spec: S): Struct<S> {
  const { names, accessors, offsets, size, align } = layOut(spec);
  const list = names.map((n) => accessors.get(n)!);
  const { acc, atomicAcc } = accessorLookups(accessors);
  const View = viewClass(list);

  const struct: Struct<S> = {
    size,
    align,
    offsets: Object.freeze(offsets) as { [K in keyof S]: number },
    fields: Object.freeze([...names]) as readonly (keyof S & string)[],
    get: (v, p, f) => acc(f).get(v, p),
    set: (v, p, f, x) => acc(f).set(v, p, x),
    load: (v, p, f) => atomicAcc(f).load(v, p),
    store: (v, p, f, x) => atomicAcc(f).store(v, p, x),
    field: acc,
    atomicField: atomicAcc,
    write(v, p, values) {
      for (const k of Object.keys(values)) {
        const x = values[k as keyof S];
        if (x !== undefined) acc(k).set(v, p, x);
      }
    },
    read(v, p) {
      const out: Record<string, number> = {};
      for (const a of list) out[a.name] = a.get(v, p);
      return out as { [K in keyof S]: number };
    },
    copy(v, dst, src) {
      v.u8.copyWithin(dst, src, src + size);
    },
    clear(v, p) {
      v.u8.fill(0, p, p + size);
    },
    view(v, p = 0) {
      return new View(v, p) as unknown as StructView<S>;
    },
  };
  return Object.freeze(struct);
}
