/*
 * memb.pml: urcu-memb grace periods of slabrcu (src/rcu), checked with spin.
 *
 * Shared words modelled (file, constant)            model variable
 *   src/rcu/layout.ts G_CTR     (MEMB_ACTIVE|MEMB_PHASE) gctr
 *   src/rcu/layout.ts G_FUTEX   (-1 driver sleeps)       fsleep (1 = -1, 0 = 0)
 *   src/rcu/layout.ts S_CTR     per slot (|MEMB_WAITER)  sctr[] (memory) + the x86-TSO
 *                                                        store buffer sbv[]/sbf[] of its owner
 *   src/rcu/layout.ts S_FAST    per slot                 sfast[]
 *   an RCU-protected pointer (user data)                 gp, freed[]
 *
 * Functions whose steps are followed
 *   src/rcu/index.ts  MembX64Rcu.readLock / MembPortableRcu.readLock (relaxed load of G_CTR,
 *                     seq-cst Atomics.store = store + mfence on x86)
 *                     MembX64Rcu.readUnlock (plain load of own word, plain store of 0, then
 *                     wakeDriver if MEMB_WAITER was seen)
 *                     MembPortableRcu.readUnlock (Atomics.exchange, wake if MEMB_WAITER)
 *                     Rcu.setUnlockPath (seq-cst store of S_FAST outside a section)
 *   src/rcu/core.ts   RcuCore.gpBody / membWait (two-phase flip), waitList, filter,
 *                     flagWaiters (CAS of MEMB_WAITER), anyFast, the re-scan before the
 *                     untimed sleep, wakeDriver
 *
 * Memory model: every Atomics operation is sequentially consistent. The reader's plain
 * store of 0 (x64 unlock) goes through a one-entry FIFO store buffer (x86-TSO); a seq-cst
 * store is the buffered store followed by an mfence (wait until the buffer drained); an
 * RMW (exchange) drains first; a plain load of its own word forwards from the buffer.
 * The driver only uses Atomics (SC). The GP mutex is not modelled (one driver; see
 * mutex.pml for the lock itself).
 *
 * Sleeps: Atomics.wait(G_FUTEX, -1) is "block until G_FUTEX != -1". The driver's short naps
 * (FAST_NAP_*) may end at any time (timeout). The 1 s bound of the portable sleep
 * (MEMB_SLEEP_MS) is NOT modelled: it is a backstop for dead owners nobody detached; the
 * model checks that no wake is ever lost for a portable slot, so that bound is never needed.
 *
 * Properties
 *   safety (assert): a reader never uses an object freed after a GP (freed[] seen in a section)
 *   no invalid end state: the driver never sleeps forever (no lost wake-up)
 *   liveness (ltl gp_ends, with -a -f): every GP that starts ends
 *
 * Broken variants (-D...), each must be rejected:
 *   MEMB_NO_MB      readLock stores S_CTR without the fence (plain store)  -> assertion
 *   MEMB_ONE_PHASE  one flip only (no phase-1 wait)                         -> assertion
 *   MEMB_NO_NAP     a fast (x64) slot is slept on like a portable one       -> invalid end state
 *   MEMB_NO_RESCAN  no re-scan when every slot reads portable before sleep  -> invalid end state
 */

#define NR      2        /* reader threads */
#ifndef NGP
#define NGP     3        /* updates, each followed by one grace period */
#endif
#define NSEC    2        /* read sections per reader */

#define ACTIVE  1
#define PHASE   2
#define WAITER  4

byte gctr = ACTIVE;      /* G_CTR */
bit  fsleep = 0;         /* G_FUTEX == -1 */
byte sctr[NR];           /* S_CTR as in memory */
byte sbv[NR];            /* store buffer: value ... */
bit  sbf[NR];            /* ... and full bit (target is always S_CTR) */
bit  sfast[NR];          /* S_FAST */

byte gp = 0;             /* the RCU-protected pointer: index of the current object */
bit  freed[NGP + 1];
bit  ingp = 0;           /* ghost: a GP is in progress */

ltl gp_ends { [] (ingp -> <> !ingp) }

/* The CPU drains each reader's store buffer at any time. */
active proctype tso()
{
  byte i;
end:
  do
  :: atomic { sbf[0] -> sctr[0] = sbv[0]; sbf[0] = 0 }
  :: atomic { sbf[1] -> sctr[1] = sbv[1]; sbf[1] = 0 }
  od
}

inline wake_driver() {
  fsleep = 0   /* Atomics.store(G_FUTEX, 0); Atomics.notify */
}

proctype reader(byte me)
{
  byte tmp, v, p, n = 0;
  bit toggled = 0;
  do
  :: n < NSEC ->
     /* readLock(): relaxed load of G_CTR ... */
     tmp = gctr;
     /* ... then Atomics.store(S_CTR, tmp): buffered store + mfence */
     atomic { sbf[me] == 0 -> sbv[me] = tmp; sbf[me] = 1; tmp = 0 }
#ifndef MEMB_NO_MB
     sbf[me] == 0;
#endif
     /* the section: rcu_dereference and use */
     p = gp;
     /* readUnlock() (the object is still in use up to here: freed[] only grows) */
     if
     :: sfast[me] ->
        /* x64: plain load of the own word (store forwarding) ... */
        atomic { assert(!freed[p]); v = (sbf[me] -> sbv[me] : sctr[me]) };
        /* ... plain store of 0 (a release store under TSO) */
        atomic { sbf[me] == 0 -> sbv[me] = 0; sbf[me] = 1 }
     :: else ->
        /* portable: Atomics.exchange(S_CTR, 0) (a locked RMW drains the buffer first) */
        atomic { sbf[me] == 0 -> assert(!freed[p]); v = sctr[me]; sctr[me] = 0 }
     fi;
     atomic {
       if
       :: (v & WAITER) -> wake_driver()
       :: else
       fi;
       n++; v = 0; p = 0
     };
     /* between sections: setUnlockPath() may switch reader 0's path (once), seq-cst store */
     if
     :: !toggled && me == 0 -> atomic { sbf[me] == 0 -> sfast[me] = 1 - sfast[me]; toggled = 1 }
     :: true
     fi
  :: else -> break
  od
}

/* blocks(v): phase 1 -- v in a section of the old phase; phase 2 -- v entered with ctr. */
#define BLOCKS(v) (ph == 1 -> ((v) != 0 && (((v) ^ ctr) & PHASE) != 0) : (((v) & ~WAITER) == ctr))

/* released(s, v): phase 1 -- a reader that re-entered in the current phase joins cur. */
inline released(s, v) {
  if
  :: ph == 1 && v != 0 -> cur = cur | (1 << s)
  :: else
  fi
}

/* One slot of filter(): Atomics.load(S_CTR), keep it if it still blocks. */
inline filter1(s) {
  if
  :: (list & (1 << s)) ->
     atomic {
       v = sctr[s];
       if
       :: BLOCKS(v)
       :: else -> list = list & ~(1 << s); released(s, v)
       fi;
       v = 0
     }
  :: else
  fi
}
inline filter() { filter1(0); filter1(1) }

/* One slot of flagWaiters(): CAS MEMB_WAITER into a slot that still blocks. */
inline flag1(s) {
  if
  :: (list & (1 << s)) ->
     v = sctr[s];
     do
     :: atomic { !BLOCKS(v) -> list = list & ~(1 << s); released(s, v); v = 0; break }
     :: atomic { BLOCKS(v) && (v & WAITER) -> v = 0; break }
     :: BLOCKS(v) && !(v & WAITER) ->
        /* Atomics.compareExchange(S_CTR, v, v | MEMB_WAITER) */
        atomic {
          if
          :: sctr[s] == v -> sctr[s] = v | WAITER; v = 0; break
          :: else -> v = sctr[s]
          fi
        }
     od
  :: else
  fi
}
inline flag_waiters() { flag1(0); flag1(1) }

/* anyFast(): Atomics.load(S_FAST) of the slots still waited for. */
inline any_fast() {
  fast = 0;
  if :: (list & 1) && sfast[0] -> fast = 1 :: else fi;
  if :: (list & 2) && sfast[1] -> fast = 1 :: else fi
}

inline wait_list() {
  do
  :: true ->
     filter();
     if
     :: list == 0 -> break
     :: else
     fi;
     fsleep = 1;                         /* Atomics.store(G_FUTEX, -1) */
     flag_waiters();
     if
     :: list == 0 -> fsleep = 0; break
     :: else
     fi;
     any_fast();
#ifdef MEMB_NO_NAP
     fast = 0;
#endif
     if
     :: fast ->
        /* short nap: woken, or its timeout */
        if
        :: fsleep == 0
        :: true
        fi
     :: else ->
#ifndef MEMB_NO_RESCAN
        filter();
        if
        :: list == 0 -> fsleep = 0; break
        :: else
        fi;
#endif
        fsleep == 0                       /* Atomics.wait(G_FUTEX, -1): until woken */
     fi
  od
}

/* The first scan of membWait: old phase -> list, current phase -> cur. */
inline scan1(s) {
  atomic {
    v = sctr[s];
    if
    :: v == 0
    :: v != 0 && ((v ^ ctr) & PHASE) != 0 -> list = list | (1 << s)
    :: else -> cur = cur | (1 << s)
    fi;
    v = 0
  }
}

proctype driver()
{
  byte i = 1, old, ctr, v, list, cur, ph;
  bit fast;
  do
  :: i <= NGP ->
     atomic { old = gp; gp = i }          /* rcu_assign_pointer (Atomics.store) */
     /* synchronize(): gpBody, membWait */
     atomic { ingp = 1; ctr = gctr; list = 0; cur = 0 }
     scan1(0);
     scan1(1);
#ifndef MEMB_ONE_PHASE
     ph = 1;
     if
     :: list != 0 -> wait_list()
     :: else
     fi;
#endif
     gctr = ctr ^ PHASE;                  /* the flip */
     ph = 2;
     list = cur;
     if
     :: list != 0 -> wait_list()
     :: else
     fi;
     atomic { fsleep = 0; ingp = 0 }      /* G_SEQ end store */
     atomic { freed[old] = 1; i++ }       /* the updater frees after the GP */
  :: else -> break
  od
}

init {
  atomic {
    sfast[0] = 1;       /* one reader starts on the x64 path, one on the portable one */
    sfast[1] = 0;
    run reader(0);
    run reader(1);
    run driver()
  }
}
