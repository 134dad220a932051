/**
 * The `kind` of a {@link SlabWarning} the library raises. One naming style: lower-case words
 * joined by `-` (kernel function names too: `kmem_cache_destroy` is `kmem-cache-destroy`).
 * The README's "Troubleshooting" section says what each one means and what to do.
 *
 * - Object and slab checks (SLUB debug, the free path's cheap checks):
 *   `slab-error` (a corrupt slab, red zone, poison or padding; or a freelist cut short),
 *   `double-free`, `invalid-free` (a pointer that is no object of the cache / arena),
 *   `wrong-cache` (an object freed to another cache than its own),
 *   `use-after-free` (a write to a quarantined object, found when it leaves the quarantine),
 *   `trace` (SLAB_TRACE: one line per alloc / free of a traced cache; informational).
 * - Cache destruction: `kmem-cache-destroy` (the cache still had objects: `leaked`).
 * - kfree_rcu: `kvfree-rcu-barrier` (a thread did not close its open batch in time),
 *   `kfree-rcu-dead-drain` (a thread died while draining a batch: some objects may be
 *   neither freed nor reusable).
 * - RCU: `rcu-stall` (a read-side critical section blocks grace periods too long),
 *   `rcu-read-across-await` (debug: a read section left open across an await),
 *   `rcu-callback-error` (an `rcu.call()` callback threw), `rcu-pump-error` (the callback
 *   pump failed), `rcu-callbacks-lost` (a thread died with callbacks queued).
 * - Threads: `dead-lock-holder` (a thread died holding an allocator lock; it was released),
 *   `service-error` (serving a request posted to this thread failed).
 */
export type SlabWarningKind =
  | 'slab-error'
  | 'double-free'
  | 'invalid-free'
  | 'wrong-cache'
  | 'use-after-free'
  | 'trace'
  | 'kmem-cache-destroy'
  | 'kvfree-rcu-barrier'
  | 'kfree-rcu-dead-drain'
  | 'kfree-rcu-bad-head'
  | 'rcu-stall'
  | 'rcu-read-across-await'
  | 'rcu-callback-error'
  | 'rcu-pump-error'
  | 'rcu-callbacks-lost'
  | 'dead-lock-holder'
  | 'service-error';

/** Every {@link SlabWarningKind}, in the order of the type (for listeners that switch on kinds). */
export const SLAB_WARNING_KINDS: readonly SlabWarningKind[] = Object.freeze([
  'slab-error', 'double-free', 'invalid-free', 'wrong-cache', 'use-after-free', 'trace',
  'kmem-cache-destroy', 'kvfree-rcu-barrier', 'kfree-rcu-dead-drain', 'kfree-rcu-bad-head',
  'rcu-stall', 'rcu-read-across-await', 'rcu-callback-error', 'rcu-pump-error', 'rcu-callbacks-lost',
  'dead-lock-holder', 'service-error',
] as const);
