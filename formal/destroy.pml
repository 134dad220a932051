/*
 * destroy.pml: the seed's asynchronous kmem_cache_destroy (src/slab/destroy.ts) against an
 * in-flight kfreeRcu, checked with spin.
 *
 * Shared words modelled (file, constant)                               model variable
 *   src/layout.ts  C_STATE (CS_DYING, CS_FREE, CS_LEAKED), C_REFCOUNT     cstate
 *   src/slab/registry.ts the cache's name (dropName)                      name_free
 *   src/layout.ts  C_NR_SLABS, P_INUSE of the cache's one slab            inuse (objects allocated)
 *   src/layout.ts  R_FLUSH + REQ_FLUSH in thread T's cpu record           flushreq; rec (T's record
 *                  (recordHolds: its cpu slab / sheaf holds the slab)      holds the slab)
 *   src/layout.ts  R_KFREE_Q / R_KFREE_D (pendingForCache), C_FOLD_KQ/KD  kq, kd
 *   src/kfree/layout.ts S_CUR (T's open block), the closed list,          kopen, kclosed, kcookie,
 *                  G_DRAIN_LOCK, S_DRAINING; REQ_KFREE / S_ACK            dlock, inhand, kreq
 *   src/rcu/layout.ts G_SEQ                                               seq
 *   src/threads.ts T_STATE of T (TS_LIVE / TS_DETACHING / TS_FREE)       tstate
 *
 * Functions whose steps are followed
 *   src/slab/destroy.ts Destroyer.begin, destroy (requestFlushAll, silent shutdown, release or
 *   asyncWork), asyncWork (kfreeBarrierOnCacheAsync, waitFlushAsync / stillHeld, finish),
 *   finish (shutdown: release, or the leak report), release; src/kfree/index.ts
 *   barrierOnCacheAsync (mayHavePending: pendingForCache, closedPending, then G_DRAIN_LOCK),
 *   barrierAsync, drainLocked and freeOne (R_KFREE_D counted, then the free); src/arena.ts
 *   detachDead (the dead drainer's drain finished under its drain lock, then released;
 *   adoption, flushAndFold).
 *   Abstraction: a drainer killed between freeOne's count and its free leaves the object in
 *   doubt; the code reports it (kfree-rcu-dead-drain) and leaves it allocated, the model's
 *   detacher frees it (so that the property "no false leak report" stays checkable).
 *   The kfree_rcu barrier itself is abstracted to its guarantee (checked in kfree.pml).
 *
 * Configuration: thread T allocated object 1 of the cache and called kfreeRcu(obj1) before
 * destroy() (it sits in T's open block); T's cpu record still holds the slab (a free object
 * of it); T serves requests, drains, and may die (its detacher adopts and flushes for it).
 * -DLEAK: object 2 was allocated and never freed (a real leak).
 * The destroyer runs destroy() and its asynchronous work to the end.
 *
 * Properties (assert)
 *   - the cache is never released while an object of it is queued or being freed by
 *     kfreeRcu, and nothing is freed into a released cache
 *   - destroy completes (released) or reports (leaked): exactly once, never both, never neither
 *   - no false report: without -DLEAK the outcome is 'released'; with it, 'leaked'
 *   - the name is free as soon as destroy() returns
 *
 * Variants
 *   (default), LEAK                  accept
 *   DESTROY_RELEASE_BEFORE_BARRIER   the async work shuts down before the barrier   reject
 *   DESTROY_NO_FLUSH_WAIT            the final shutdown does not wait for T's flush  reject
 *   CODE_COUNT_FIRST (finding 6)     the code before the fix (fixed in 61bbb44): freeOne counts
 *                                    the object freed (R_KFREE_D++) before it frees it, and
 *                                    barrierOnCache skips on pendingForCache = 0 with an empty
 *                                    closed list without looking at G_DRAIN_LOCK: it skips while
 *                                    the drainer has the object in hand           reject
 *   The correct model follows src/ as fixed: the same count-then-free, and the skip also
 *   requires the drain lock free.
 */

#define LIVE 0
#define DETACHING 1
#define FREE 2

#define CS_LIVE 0
#define CS_DYING 1
#define CS_FREE 2
#define CS_LEAKED 3

#define SNAP ((seq + 3) & 254)

byte cstate = CS_LIVE;
bit  name_free = 0;
#ifdef LEAK
byte inuse = 2;
#else
byte inuse = 1;
#endif
bit  rec = 1, flushreq = 0;
bit  hand = 0;                         /* T's flush took its sheaf out of the record, not yet back */
byte kq = 1, kd = 0;                   /* object 1 was queued by kfreeRcu */
bit  kopen = 1, kclosed = 0, kreq = 0;
bit  inhand[3];                        /* S_DRAINING of T (1) and of the destroyer (2) */
byte kcookie = 0;
byte dlock = 0;                        /* 0, 1 = T, 2 = destroyer */
byte seq = 0, want = 0, spont = 0;
byte qsn1 = 2;                         /* snapshot at kfreeRcu(obj1), seq was 0 */
byte ost1 = 1;                         /* 1 queued, 2 freed */
byte tstate = LIVE;
bit  dead = 0;
byte outcome = 0;                      /* 1 released, 2 leaked */

inline free_obj1() {
  assert(cstate != CS_FREE);           /* never into a released cache */
  assert(ost1 == 1 && seq >= qsn1);
  ost1 = 2;
  inuse--
}

/* drainLocked for the one block: take it if its GP is over, free its object. */
inline drain_body(who) {
  atomic { if :: kclosed && seq >= kcookie -> kclosed = 0; inhand[who] = 1 :: else fi };
  if
  :: inhand[who] ->
     kd++;                             /* freeOne: R_KFREE_D++ ... */
     if :: who == 1 && !dead -> dead = 1; goto died :: else fi;   /* (T may be killed here) */
     atomic { free_obj1(); inhand[who] = 0 }  /* ... then the free */
  :: else
  fi
}

inline close_block() {
  atomic { if :: kopen -> kcookie = SNAP; kclosed = 1; kopen = 0 :: else fi }
}

proctype thread_t()
{
  bit drained = 0, ticked = 0;
end:
  do
  :: flushreq ->                                           /* serviceRequests: REQ_FLUSH, flushRecord: */
     atomic { rec = 0; hand = 1 };                         /*   the sheaf out of the record first, */
     atomic { hand = 0; flushreq = 0 }                     /*   its objects back, storage freed, then R_FLUSH = 0 */
  :: kreq -> close_block(); kreq = 0                       /* REQ_KFREE (S_ACK) */
  :: !ticked -> close_block(); ticked = 1                  /* tick: drain delay over */
  :: !drained ->                                           /* tick: drainReady(false) */
     drained = 1;
     atomic { dlock == 0 -> dlock = 1 };
     drain_body(1);
     dlock = 0
  :: !dead -> dead = 1; goto died                          /* terminated */
  od;
died:
  skip
}

proctype detacher()
{
end:
  dead;
  atomic { tstate == LIVE -> tstate = DETACHING };
  /* a drain it was killed in: finished for it (its block is past its GP), then its lock */
  if
  :: inhand[1] -> atomic { free_obj1(); inhand[1] = 0; if :: kd < kq -> kd++ :: else fi }
  :: else
  fi;
  if :: dlock == 1 -> dlock = 0 :: else fi;
  close_block();                       /* adoptSlot: its open block onto the closed list */
  atomic { rec = 0; flushreq = 0 };    /* flushAndFold: its cpu record */
  tstate = FREE
}

proctype gp()
{
end:
  do
  :: atomic { (want > seq || spont < 1) && (seq & 1) == 0 -> if :: want <= seq -> spont++ :: else fi; seq++ }
  :: atomic { (seq & 1) == 1 -> seq++ }
  od
}

/* The kfree_rcu barrier (its guarantee; kfree.pml checks how it is kept). */
inline kfree_barrier() {
  kreq = 1;
  (kreq == 0 || tstate == FREE);                 /* closedFor */
  atomic { target = SNAP; if :: want < target -> want = target :: else fi };
  seq >= target;                                 /* synchronize */
  atomic { dlock == 0 -> dlock = 2 };            /* drainReady(true) */
  drain_body(2);
  dlock = 0
}

inline shutdown() {
  /* discardEmpty: the slab goes if nothing is allocated and no record holds it */
  atomic { isempty = (inuse == 0 && rec == 0 && hand == 0) }
}

inline set_outcome(x) {
  atomic { assert(outcome == 0); outcome = x }
}

proctype destroyer()
{
  byte target;
  bit isempty, pending;
  /* begin(): under slab_mutex, refcount 1 -> 0, name dropped, no more allocations */
  atomic { cstate = CS_DYING; name_free = 1 };
  assert(name_free);
  /* requestFlushAll */
  atomic {
    if
    :: rec && tstate != FREE -> flushreq = 1; pending = 1
    :: rec && tstate == FREE -> rec = 0
    :: else
    fi
  };
  shutdown();
  if
  :: !pending && isempty -> atomic { assert(ost1 == 2); cstate = CS_FREE }; set_outcome(1)
  :: else ->
     /* asyncWork */
#ifdef DESTROY_RELEASE_BEFORE_BARRIER
     goto fin;
#endif
     /* barrierOnCacheAsync (mayHavePending): nothing pending for this cache, nothing closed
        and, read after those, no drainer holding G_DRAIN_LOCK -> skip */
     if
#ifdef CODE_COUNT_FIRST
     :: atomic { kq - kd == 0 && !kclosed } -> skip     /* before the fix: the drain lock is not looked at */
#else
     :: atomic { kq - kd == 0 && !kclosed && dlock == 0 } -> skip
#endif
     :: else -> kfree_barrier()
     fi;
#ifndef DESTROY_NO_FLUSH_WAIT
     /* waitFlushAsync / stillHeld: a detached thread's record is flushed by us */
     do
     :: atomic { rec && tstate == FREE -> rec = 0 }
#ifdef CODE_NO_FLUSH_ACK
     :: atomic { !rec -> break }        /* before the fix: an empty record was taken as flushed */
#else
     :: atomic { !rec && (flushreq == 0 || tstate == FREE) -> break }   /* and R_FLUSH acknowledged */
#endif
     od;
#endif
fin:
     /* finish */
     shutdown();
     if
     :: isempty -> atomic { assert(ost1 == 2); cstate = CS_FREE }; set_outcome(1)
     :: else -> atomic { cstate = CS_LEAKED }; set_outcome(2)
     fi;
#ifdef DESTROY_RELEASE_BEFORE_BARRIER
     kfree_barrier();
#endif
     skip
  fi;
  assert(outcome != 0);
#ifdef LEAK
  assert(outcome == 2);
#else
  assert(outcome == 1);                /* an object in flight through kfreeRcu is no leak */
#endif
died:                                  /* (never: the destroyer is not killed) */
  skip
}

init {
  atomic {
    run thread_t();
    run detacher();
    run gp();
    run destroyer()
  }
}
