/*
 * mutex.pml: the Atomics mutex with the owner token in the lock word, and breaking the lock
 * of a thread that died inside its critical section, checked with spin.
 *
 * Shared words modelled (file, constant)                          model variable
 *   src/sync/mutex.ts  the lock word: 0, or (LOCK_TOKEN << 1) | W   w
 *     (every lock of src/: H_SLAB_MUTEX, H_BUDDY_LOCK, cache C_LOCK, kfree G_LOCK and
 *      G_DRAIN_LOCK, listed in src/arena.ts releaseLocksOf)
 *   src/rcu/layout.ts G_GP_MUTEX ((slot + 1) << 1) | WAITERS       w (with -DGPMUTEX)
 *   the data the lock protects: two words that must agree          a, b (invariant a == b)
 *   src/threads.ts T_DEAD / the worker 'exit' event                dead
 *
 * Functions whose steps are followed
 *   src/sync/mutex.ts  lock (CAS 0 -> MINE, spin, contendedStep: load, CAS 0 -> MINE|W,
 *                      CAS c -> c|W, Atomics.wait(w, c)), unlock (exchange 0, notify if W),
 *                      forceUnlockIfOwner (the break), breakIfStale (the lease, -DMUTEX_LEASE)
 *   src/arena.ts       detachDead -> releaseLocksOf (the breaker runs on the detaching thread)
 *   src/rcu/gpmutex.ts gpLock / gpUnlock / gpBreakFor (the same shape; -DGPMUTEX: the repair
 *                      is done by the next holder, core.ts gpBody completing a GP found in
 *                      progress, instead of by the breaker)
 *
 * Abstractions: Atomics.wait(w, c, 20 ms) is "block until w != c": its timeout only re-runs
 * the loop, and a notify is never lost (a waiter sets W with a CAS before it sleeps, so the
 * releasing exchange or CAS sees W or the waiter's CAS fails). The 10 s lease of
 * breakIfStale is left out except in -DMUTEX_LEASE. The repair is the step the kill-safety
 * work adds ("whoever breaks its locks repairs what they protected", DESIGN.md section 5):
 * here, restoring a == b.
 *
 * Properties
 *   safety: mutual exclusion (ncs <= 1); every critical section finds a == b
 *   no invalid end state: no thread waits forever on a lock held by a dead thread
 *
 * Variants
 *   (default)            breaker repairs, then releases with a CAS loop        accept
 *   GPMUTEX              breaker only releases; the next holder repairs        accept
 *   MUTEX_NO_REPAIR      breaker releases without repairing                    reject (assertion)
 *   MUTEX_REPAIR_AFTER   breaker releases, then repairs                        reject (assertion)
 *   MUTEX_LEASE          a waiter breaks a lock held "too long" by a live one  reject (mutual exclusion)
 *   CODE_SINGLE_CAS      forceUnlockIfOwner as in src/sync/mutex.ts today: one
 *                        CAS, which fails if a waiter sets W between its load
 *                        and its CAS, and then gives up                        reject (invalid end state)
 */

#define W 1
#define MINE(t) ((t) << 1)
#define OWNER(c) ((c) >> 1)
#define VICTIM 3

byte w = 0;
byte a = 0, b = 0;
byte ncs = 0;
bit  dead = 0;

inline cs_enter() {
  atomic {
    ncs++;
    assert(ncs == 1);
#ifdef GPMUTEX
    /* gpBody: a GP found in progress (a dead holder's) is completed by this holder */
    if :: a != b -> b = a :: else fi;
#endif
    assert(a == b)
  }
}

inline lock(me) {
  do
  :: atomic { w == 0 -> w = MINE(me); break }        /* CAS 0 -> MINE (fast path, spin) */
  :: else ->
     /* contendedStep */
     c = w;
     if
     :: c == 0 ->
        atomic { if :: w == 0 -> w = MINE(me) | W; c = 0; break :: else fi }
     :: else ->
#ifdef MUTEX_LEASE
        /* breakIfStale: the same owner seen for LOCK_LEASE_MS: taken as dead */
        if
        :: atomic { w == c -> w = 0; c = 0 }
        :: true
        fi;
#endif
        if
        :: c != 0 && !(c & W) ->
           atomic { if :: w == c -> w = c | W; c = c | W :: else -> c = 0 fi }
        :: else
        fi;
        if
        :: c != 0 -> w != c                           /* Atomics.wait(w, c) */
        :: else
        fi
     fi
  od;
  c = 0
}

inline unlock() {
  w = 0           /* Atomics.exchange(w, 0); notify if W was set (waits end when w changes) */
}

proctype worker(byte me)
{
  byte c, n = 0;
  do
  :: n < 2 ->
     lock(me);
     cs_enter();
     a++;
     b++;
     atomic { ncs--; unlock() };
     n++
  :: else -> break
  od
}

/* Takes the lock, and may be terminated anywhere inside its critical section. */
proctype victim()
{
  byte c;
  lock(VICTIM);
  cs_enter();
  if
  :: atomic { dead = 1; ncs-- ; goto gone }
  :: true
  fi;
  a++;
  if
  :: atomic { dead = 1; ncs-- ; goto gone }
  :: true
  fi;
  b++;
  atomic { ncs--; unlock() };
gone:
  skip
}

/* The thread that runs detachDead for the victim (its worker 'exit' event). */
proctype detacher()
{
  byte c;
end:
  dead;                                       /* the victim died (a victim that lives needs no detach) */
  c = w;
  if
  :: c != 0 && OWNER(c) == VICTIM ->
#if !defined(MUTEX_NO_REPAIR) && !defined(MUTEX_REPAIR_AFTER) && !defined(GPMUTEX)
     b = a;                                   /* repair, while the dead token still holds it */
#endif
#ifdef CODE_SINGLE_CAS
     atomic { if :: w == c -> w = 0 :: else fi }   /* one CAS; on failure: return false */
#else
     do                                       /* CAS loop (gpBreakFor) */
     :: atomic { w == c -> w = 0; break }
     :: atomic { w != c -> c = w }
     od;
#endif
#ifdef MUTEX_REPAIR_AFTER
     b = a;
#endif
     skip
  :: else
  fi
}

init {
  atomic {
    run worker(1);
    run worker(2);
    run victim();
    run detacher()
  }
}
