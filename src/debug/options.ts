/**
 * The kernel's `slab_debug=` boot option syntax (mm/slub.c parse_slub_debug_flags,
 * kmem_cache_flags), used by Arena.create({ debug }).
 *
 *   'FZPU'                      these letters for every cache
 *   ''  or  'all'               F, Z, P, U (DEBUG_DEFAULT_FLAGS) for every cache
 *   '-'                         no debugging
 *   'FZ,cache1,cache2;P,cache3' FZ for cache1 and cache2, P for cache3; a block without
 *                               names sets the flags of caches no block names
 *   ',cache1'                   the default letters for cache1 only
 * A name ending in '*' matches every cache whose name starts with the part before it.
 * Letters: F consistency checks, Z red zone, P poison, U store user, T trace, '-' clears;
 * O and A are accepted and ignored.
 */
import { SLAB_CONSISTENCY_CHECKS, SLAB_POISON, SLAB_RED_ZONE, SLAB_STORE_USER, SLAB_TRACE } from '../flags.js';

export const DEBUG_DEFAULT_FLAGS = SLAB_CONSISTENCY_CHECKS | SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER;

export interface SlabDebugSpec {
  global: number;
  blocks: { flags: number; names: string[] }[];
}

function parseLetters(s: string, spec: string): number {
  if (s === '' ) return DEBUG_DEFAULT_FLAGS;
  let f = 0;
  for (const ch of s.toLowerCase()) {
    switch (ch) {
      case 'f': f |= SLAB_CONSISTENCY_CHECKS; break;
      case 'z': f |= SLAB_RED_ZONE; break;
      case 'p': f |= SLAB_POISON; break;
      case 'u': f |= SLAB_STORE_USER; break;
      case 't': f |= SLAB_TRACE; break;
      case '-': f = 0; break;
      case 'o': case 'a': break;
      default:
        throw new Error(`slabrcu: slab_debug option '${ch}' unknown in '${spec}' (letters: F Z P U T, or -)`);
    }
  }
  return f;
}

export function parseSlabDebug(spec: string | undefined): SlabDebugSpec {
  const out: SlabDebugSpec = { global: 0, blocks: [] };
  if (spec === undefined) return out;
  if (typeof spec !== 'string') throw new TypeError('slabrcu: debug must be a slab_debug= string such as "FZPU"');
  const s = spec.trim() === 'all' ? '' : spec.trim();
  if (s === '') {
    out.global = DEBUG_DEFAULT_FLAGS;
    return out;
  }
  for (const block of s.split(';')) {
    if (block === '') continue;
    const [letters, ...names] = block.split(',');
    const flags = parseLetters(letters ?? '', spec);
    const list = names.map((n) => n.trim()).filter((n) => n !== '');
    if (list.length === 0) out.global = flags;
    else out.blocks.push({ flags, names: list });
  }
  return out;
}

function matches(pattern: string, name: string): boolean {
  if (pattern.endsWith('*')) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

/** kmem_cache_flags(): the debug flags the arena option adds for a cache of this name. */
export function debugFlagsFor(spec: SlabDebugSpec, name: string): number {
  for (const b of spec.blocks) {
    if (b.names.some((p) => matches(p, name))) return b.flags;
  }
  return spec.global;
}
