/*
 * qsbr.pml: urcu-qsbr grace periods of slabrcu (src/rcu), checked with spin.
 *
 * Shared words modelled (file, constant)            model variable
 *   src/rcu/layout.ts G_CTR   (odd, +QSBR_STEP per GP) gctr
 *   src/rcu/layout.ts G_FUTEX (-1 driver sleeps)       fsleep (1 = -1)
 *   src/rcu/layout.ts S_CTR   per slot (0 = offline)   sctr[] (memory) + the owner's x86-TSO
 *                                                      store buffer sbv[]/sbf[]
 *   an RCU-protected pointer (user data)               gp, freed[]
 *
 * Functions whose steps are followed
 *   src/rcu/index.ts  Rcu.quiescentState / autoQs (Atomics.store(S_CTR, Atomics.load(G_CTR)),
 *                     then Atomics.load(G_FUTEX) and wakeDriver if -1), goOffline (store 0,
 *                     same wake check), goOnline (store G_CTR), the Rcu constructor
 *                     (register = online), detach (goOffline)
 *   src/rcu/core.ts   RcuCore.gpBody / qsbrWait (advance G_CTR by 2, list the online slots
 *                     not at the new value), waitList (filter, G_FUTEX = -1, re-filter, sleep)
 *
 * Memory model: Atomics are seq-cst: a store is a buffered store followed by an mfence
 * (x86-TSO; the buffer has one entry); the driver is SC. QSBR_NO_MB drops the reader's fence.
 *
 * Sleeps: the driver's sleep on G_FUTEX is modelled as "until woken". The code also bounds it
 * by QSBR_FQS_MS (10 ms) to post REQ_RCU to idle threads that never report; here every reader
 * reports (its last step is detach = offline), so the model checks that no report's wake is
 * lost and the 10 ms period is only needed for threads that are idle, never for a lost wake.
 * A reader holds a pointer from its read to its next quiescent state or offline (qsbr: read
 * sections are not marked; any pointer is good until the thread reports).
 *
 * Properties
 *   safety (assert): no object is freed while an online reader that read it before the GP
 *                    still holds it
 *   no invalid end state: the driver never sleeps forever
 *   liveness (ltl gp_ends, -a -f): every GP that starts ends
 *
 * Broken variants (each must be rejected)
 *   QSBR_NO_MB    the reader's S_CTR store has no fence (plain store)  -> assertion
 *   QSBR_NO_WAKE  a reporting reader does not check G_FUTEX            -> invalid end state
 */

#define NR    2
#ifndef NGP
#define NGP   2
#endif
#ifndef NACT
#define NACT  4          /* actions per reader before it detaches */
#endif
#define STEP  2

byte gctr = 1;           /* G_CTR, QSBR_ONLINE */
bit  fsleep = 0;         /* G_FUTEX == -1 */
byte sctr[NR];           /* S_CTR in memory */
byte sbv[NR];
bit  sbf[NR];
byte gp = 0;
bit  freed[NGP + 1];
bit  ingp = 0;

ltl gp_ends { [] (ingp -> <> !ingp) }

active proctype tso()
{
end:
  do
  :: atomic { sbf[0] -> sctr[0] = sbv[0]; sbf[0] = 0 }
  :: atomic { sbf[1] -> sctr[1] = sbv[1]; sbf[1] = 0 }
  od
}

/* Atomics.store(S_CTR, x): buffered store, then mfence. */
inline sc_store(x) {
  atomic { sbf[me] == 0 -> sbv[me] = x; sbf[me] = 1; tmp = 0 };
#ifndef QSBR_NO_MB
  sbf[me] == 0
#else
  skip
#endif
}

/* if (Atomics.load(G_FUTEX) === -1) wakeDriver() */
inline wake_check() {
#ifndef QSBR_NO_WAKE
  atomic { if :: fsleep -> fsleep = 0 :: else fi }
#else
  skip
#endif
}

inline stop_using() {
  if :: holding -> assert(!freed[p]); holding = 0; p = 0 :: else fi
}

proctype reader(byte me)
{
  byte tmp, p, n = 0;
  bit online = 1, holding = 0;
  do
  :: n < NACT ->
     if
     :: online && !holding ->               /* rcu_dereference */
        atomic { p = gp; holding = 1 }
     :: online ->                           /* quiescentState() */
        atomic { stop_using(); tmp = gctr };
        sc_store(tmp);
        wake_check()
     :: online ->                           /* offline() */
        atomic { stop_using(); tmp = 0 };
        sc_store(0);
        wake_check();
        online = 0
     :: !online ->                          /* online() */
        tmp = gctr;
        sc_store(tmp);
        online = 1
     fi;
     n++
  :: else -> break
  od;
  /* detach(): goOffline() */
  if
  :: online ->
     atomic { stop_using(); tmp = 0 };
     sc_store(0);
     wake_check()
  :: else
  fi
}

inline filter1(s) {
  if
  :: (list & (1 << s)) ->
     atomic { v = sctr[s]; if :: v == 0 || v == ctr -> list = list & ~(1 << s) :: else fi; v = 0 }
  :: else
  fi
}
inline filter() { filter1(0); filter1(1) }

proctype driver()
{
  byte i = 1, old, ctr, v, list;
  do
  :: i <= NGP ->
     atomic { old = gp; gp = i }
     /* gpBody / qsbrWait */
     atomic { ingp = 1; ctr = gctr + STEP; gctr = ctr; list = 3 };
     filter();                             /* the initial scan */
     do                                    /* waitList */
     :: true ->
        filter();
        if :: list == 0 -> break :: else fi;
        fsleep = 1;                        /* Atomics.store(G_FUTEX, -1) */
        filter();
        if :: list == 0 -> fsleep = 0; break :: else fi;
        fsleep == 0                        /* sleep until woken */
     od;
     atomic { fsleep = 0; ingp = 0 };
     atomic { freed[old] = 1; i++ }
  :: else -> break
  od
}

init {
  atomic {
    sctr[0] = 1; sctr[1] = 1;            /* registered: online at G_CTR */
    run reader(0);
    run reader(1);
    run driver()
  }
}
