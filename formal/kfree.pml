/*
 * kfree.pml: kfreeRcu batching of slabrcu (src/kfree), checked with spin.
 *
 * Shared words modelled (file, constant)                              model variable
 *   src/kfree/layout.ts S_CUR       per slot: the open block            scur[]
 *   src/kfree/layout.ts S_ACK       per slot: close requests served     sack[]
 *   src/kfree/layout.ts S_DRAINING  per slot: block in hand of a drain  sdrain[]
 *   src/kfree/layout.ts B_COUNT, B_REC, B_COOKIE, B_NEXT, B_OWNER        bcnt[], brec[], bcookie[], bnext[], bowner[]
 *   src/kfree/layout.ts G_CLOSED_HEAD / G_CLOSED_TAIL (under G_LOCK)     chead, ctail
 *   src/kfree/layout.ts G_CHAIN_HEAD / G_CHAIN_COOKIE (under G_LOCK)     chhead, chcookie, clink[] (the rcu_head word)
 *   src/kfree/layout.ts G_DRAIN_LOCK                                     dlock (0 or slot + 1)
 *   src/rcu/layout.ts   G_SEQ (getState = seqSnap, pollState)            seq (step 2: even idle, odd in progress)
 *   src/layout.ts       REQ_KFREE posted to a thread                     req[]
 *   src/threads.ts      T_STATE (TS_LIVE, TS_DETACHING, TS_FREE) of B   bstate
 *   the buddy allocator / spare pages (block pages)                      pool (bit p: page p free)
 *   ghost: object state (user, queued, freed) and its GP snapshot        ost[], qsn[]
 *
 * Functions whose steps are followed (src/kfree/index.ts)
 *   kfreeRcuSlow (insert; openBlock; chainFallback), initBlock, closeOwn, pushClosed,
 *   drainReady / drainLocked (the ready prefix under G_LOCK, S_DRAINING, freeBlock newest
 *   record first with B_COUNT committed with each free, the chain), recyclePage, tick,
 *   serviceRequests, barrier (othersWithOpenBlocks, closedFor, synchronize, drainReady(true)),
 *   detach, adoptSlot / adoptDead; src/arena.ts detachDead (releaseLocksOf, then adoption).
 *
 * Configuration: threads A (live; 2 objects) and B (1 object; may be killed at any step of
 * a close or a drain), C calls kvfreeRcuBarrier() once while A and B run, then, when all
 * is over, a final barrier; the detacher runs detachDead(B) when B dies. Blocks hold 2
 * records; 2 block pages; taking a page may also fail (arena exhausted: the rcu_head
 * chain). The GP engine runs a GP when one is waited for (and -DSPONT=n more on their own;
 * SPONT=1 grows the state space past 5e7 states).
 * Only B drains on its own (A's tick only closes). NO_DEATH: B is never killed.
 * G_LOCK sections are atomic (a thread is not killed inside one): in the code a thread killed
 * inside one has its G_LOCK taken over by its detacher, which undoes or completes the section
 * (src/kfree/blocks.ts repairLists: a drain that published S_DRAINING but unlinked nothing is
 * left queued, a half-unlinked prefix is cut off, a chain named by both heads is cleared, the
 * tail, count and owners are rebuilt from the list) before anyone else sees it; that repair
 * is not modelled here. A free with its B_COUNT commit is one step (SlabCore.freeGroup and
 * drainRunToBarn commit both before any object changes state).
 *
 * Properties (assert)
 *   - no object is freed before a full GP since its kfreeRcu (seq >= snapshot at the call)
 *   - no object is freed twice; no block is put on the closed list twice
 *   - the barrier: every object queued before kvfreeRcuBarrier() is freed at its return
 *   - none lost: after the final barrier every queued object is freed
 *
 * The correct model follows src/ as fixed in 61bbb44 (findings 1-5 of formal/FINDINGS.md);
 * each CODE_* variant reproduces the code before that fix, and is rejected:
 *   - closedFor() adopts a thread that is not TS_LIVE: a TS_DETACHING thread is being
 *     adopted by its detacher at that moment. Here the barrier waits for TS_FREE instead.
 *     CODE_BARRIER_ADOPTS.
 *   - a dead drainer's blocks in hand: the code releases its drain lock (releaseLocksOf)
 *     before adoptSlot re-queues them at the tail with a fresh cookie, so a barrier can take
 *     the lock and return before they are freed. Here the detacher finishes the dead
 *     drainer's drain (its blocks are past their GP) before releasing its drain lock.
 *     CODE_RELEASE_FIRST.
 *   - the rcu_head chain a drainer detached lives in a local variable: if it is killed
 *     while freeing it the rest is lost. Here it is published per slot (as S_DRAINING) and
 *     the adopter frees it. CODE_CHAIN_LOCAL.
 *
 *   - the rcu_head chain has one cookie, refreshed by every insert (chainFallback), and the
 *     barrier takes it only if that cookie is done: an insert during the barrier's GP
 *     starves it, and an object queued before the barrier is still queued at its return.
 *     Here the barrier first closes the chain (a second list with its own cookie; new
 *     inserts start a new open chain), as the kernel moves krcp->head to head_free.
 *     CODE_CHAIN_BARRIER.
 *
 *   - adoptSlot clears the dead thread's S_CUR before it queues the block: a barrier that
 *     looks in between sees the block neither open nor closed and returns without it.
 *     Here it is queued first, then S_CUR cleared (the order closeOwn uses).
 *     CODE_ADOPT_CLEAR_FIRST.
 *
 * Broken variants (deliberate)
 *   BLOCK_STALE_COOKIE   pushClosed keeps the cookie taken when the block was opened
 *   CHAIN_STALE_COOKIE   the chain's cookie is not refreshed by a later insert
 *   DRAIN_NO_POLL        the drain frees closed blocks without polling their cookie
 *   BARRIER_NO_SYNC      the barrier drains without waiting for a grace period
 *   ADOPT_NO_OWNER_CHECK the adopter queues S_CUR without checking B_OWNER
 */

#define A 0
#define B 1
#define C 2
#define CLOSED 3
#define CAP 2
#define NOBJ 3           /* objects 1, 2 (A) and 3 (B) */

#define LIVE 0
#define DETACHING 1
#define FREE 2

#define SNAP ((seq + 3) & 254)          /* seqSnap with a GP step of 2 */
#ifndef SPONT
#define SPONT 0                         /* GPs nobody waits for */
#endif

byte seq = 0, want = 0, spont = 0;
byte pool = 6;                          /* pages 1 and 2 free */
byte scur[2], sack[2];
byte sdrain[4], schain[4];             /* per slot: A, B, C, the detacher */
bit  req[2];
byte bcnt[3], bnext[3], bcookie[3], bowner[3], brec[6];
byte chead = 0, ctail = 0;
byte chhead = 0, chcookie = 0, clink[NOBJ + 1];
byte chcl = 0, chccookie = 0;           /* the closed chain (not in src/: see CODE_CHAIN_BARRIER) */
byte dlock = 0;
byte ost[NOBJ + 1], qsn[NOBJ + 1];      /* 0 user, 1 queued, 2 freed */
byte bstate = LIVE;
bit  dead = 0, a_done = 0, b_done = 0, det_done = 0;

/* ------------------------------------------------------------------ helpers */

inline free_obj(o) {
  assert(ost[o] == 1);                  /* never freed twice, never a non-queued object */
  assert(seq >= qsn[o]);                /* a full GP since its kfreeRcu */
  ost[o] = 2;
  qsn[o] = 0;
  clink[o] = 0
}

/* Thread B may be terminated here (worker.terminate(): JS stops at any interrupt check). */
#ifdef NO_DEATH
#define DIE  skip
#else
#define DIE  if :: me == B && !dead -> dead = 1; goto died :: else -> skip fi
#endif

inline push_closed(p) {
  atomic {
    bnext[p] = 0;
#ifndef BLOCK_STALE_COOKIE
    bcookie[p] = SNAP                   /* get_state_synchronize_rcu(), after the last insert */
#endif
  };
  atomic {                              /* G_LOCK */
    assert(bowner[p] != CLOSED);        /* a block is queued once */
    if :: ctail == 0 -> chead = p :: else -> bnext[ctail] = p fi;
    ctail = p;
    bowner[p] = CLOSED
  }
}

/* closeOwn by the owner: B_COOKIE and the G_LOCK append in one step (the block is still
   the owner's alone until it is on the list). */
inline close_own() {
  atomic {
    if
    :: scur[me] != 0 && bcnt[scur[me]] > 0 ->
       p = scur[me];
#ifndef BLOCK_STALE_COOKIE
       bcookie[p] = SNAP;
#endif
       bnext[p] = 0;
       assert(bowner[p] != CLOSED);
       if :: ctail == 0 -> chead = p :: else -> bnext[ctail] = p fi;
       ctail = p;
       bowner[p] = CLOSED;
       p = 0;
       closing = 1
    :: else
    fi
  };
  if
  :: closing ->
     DIE;                               /* queued, still in S_CUR: B_OWNER tells the adopter */
     atomic { scur[me] = 0; closing = 0 }
  :: else
  fi
}

inline insert(o) {
  if
  :: atomic { scur[me] != 0 && bcnt[scur[me]] < CAP ->
       brec[scur[me] * CAP + bcnt[scur[me]]] = o; bcnt[scur[me]]++; ost[o] = 1; qsn[o] = SNAP }
  :: else ->
     /* openBlock: close the full one, take a page (spare or buddy), or fall back */
     close_own();
     if
     :: atomic { pool & 2 -> pg = 1; pool = pool & ~2 }
     :: atomic { pool & 4 -> pg = 2; pool = pool & ~4 }
     :: true -> pg = 0                  /* no page to be had (arena exhausted) */
     fi;
     if
     :: pg != 0 ->
        d_step {
          bcnt[pg] = 0; bnext[pg] = 0; bcookie[pg] = SNAP; bowner[pg] = me; scur[me] = pg;
          brec[pg * CAP] = o; bcnt[pg] = 1; ost[o] = 1; qsn[o] = SNAP; pg = 0
        }
     :: else ->
        d_step {                        /* chainFallback, under G_LOCK */
#ifdef CHAIN_STALE_COOKIE
          if :: chhead == 0 -> chcookie = SNAP :: else fi;
#else
          chcookie = SNAP;
#endif
          clink[o] = chhead; chhead = o; ost[o] = 1; qsn[o] = SNAP
        }
     fi
  fi
}

/* The ready prefix of the closed list and the ready chain, under G_LOCK. */
inline take_ready() {
  atomic {
    first = chead; last = 0; p = chead;
    do
#ifdef DRAIN_NO_POLL
    :: p != 0 -> last = p; p = bnext[p]
#else
    :: p != 0 && seq >= bcookie[p] -> last = p; p = bnext[p]
#endif
    :: else -> break
    od;
    if
    :: last != 0 ->
       sdrain[me] = first;
       chead = bnext[last];
       if :: chead == 0 -> ctail = 0 :: else fi;
       bnext[last] = 0
    :: else -> first = 0
    fi;
    chain = 0;
    if
    :: chcl != 0 && seq >= chccookie -> chain = chcl; chcl = 0; chccookie = 0
    :: else
    fi;
    if
    :: chhead != 0 && seq >= chcookie ->
       /* the open chain goes in front of what was taken */
       o = chhead;
       do :: clink[o] != 0 -> o = clink[o] :: else -> break od;
       clink[o] = chain; chain = chhead; chhead = 0; chcookie = 0; o = 0
    :: else
    fi;
#ifndef CODE_CHAIN_LOCAL
    schain[me] = chain;
#endif
    p = 0; last = 0
  }
}

/* Free blocks from S_DRAINING on, then the chain (freeBlock, recyclePage, freeOne). */
inline free_in_hand(t) {
  p = sdrain[t];
  do
  :: p != 0 ->
     do
     :: atomic { bcnt[p] > 0 -> k = bcnt[p] - 1; o = brec[p * CAP + k]; free_obj(o); bcnt[p] = k; brec[p * CAP + k] = 0; o = 0; k = 0 };
        DIE
     :: else -> break
     od;
     atomic { nx = bnext[p]; sdrain[t] = nx };
     DIE;
     atomic { pool = pool | (1 << p); bowner[p] = 0; bcookie[p] = 0; bnext[p] = 0; p = nx; nx = 0 }
  :: else -> break
  od
}

inline free_chain(t) {
  do
  :: chain != 0 ->
     atomic {
       o = chain; chain = clink[o];
#ifndef CODE_CHAIN_LOCAL
       schain[t] = chain;
#endif
       free_obj(o); o = 0
     };
     DIE
  :: else -> break
  od
}

/* drainReady(wait) + drainLocked */
inline drain(wait) {
  if
  :: wait -> atomic { dlock == 0 -> dlock = me + 1; got = 1 }
  :: else -> atomic { if :: dlock == 0 -> dlock = me + 1; got = 1 :: else -> got = 0 fi }
  fi;
  if
  :: got ->
     take_ready();
#ifndef NO_DEATH
     if
     :: me == B ->                      /* B may be killed between any two frees */
        free_in_hand(me);
        free_chain(me)
     :: else ->
#endif
        /* a drainer that is never killed: its frees, one step (nobody else looks at its
           blocks in hand; only the page returns to the pool at a different moment) */
        atomic { free_in_hand(me); free_chain(me) }
#ifndef NO_DEATH
     fi;
#endif
     dlock = 0;
     got = 0
  :: else
  fi
}

/* ------------------------------------------------------------------ threads */

proctype owner(byte me)
{
  byte pg, p, first, last, nx, k, o, chain;
  bit got, drained = 0, ticked = 0, closing = 0;
  byte next = (me == A -> 1 : 3), lim = (me == A -> 2 : 3);
  do
  :: next <= lim -> insert(next); next++           /* kfreeRcu(obj) */
  :: !ticked && scur[me] != 0 -> close_own(); ticked = 1   /* tick: drain delay over (once) */
  :: me == B && !drained -> drain(0); drained = 1   /* tick: drainReady(false) (B only, to bound the model) */
  :: req[me] -> req[me] = 0; close_own(); sack[me]++  /* serviceRequests (REQ_KFREE) */
#ifndef NO_DEATH
  :: me == B && !dead -> dead = 1; goto died       /* terminated between two calls */
#endif
  :: next > lim -> break
  od;
  /* detach(): close the open block, give an empty one back */
  close_own();
  atomic {
    if
    :: scur[me] != 0 -> pool = pool | (1 << scur[me]); bowner[scur[me]] = 0; bcookie[scur[me]] = 0; scur[me] = 0
    :: else
    fi
  };
  if :: me == A -> a_done = 1 :: else -> b_done = 1 fi;
  goto out;
died:
  skip;
out:
  skip
}

/* adoptSlot(B), by its detacher (or, CODE_BARRIER_ADOPTS, by a barrier caller) */
inline adopt_open(t) {
  pg = scur[t];
  if
  :: pg != 0 ->
#ifdef CODE_ADOPT_CLEAR_FIRST
     scur[t] = 0;                         /* src/ order: out of S_CUR, then queued */
#endif
     if
#ifndef ADOPT_NO_OWNER_CHECK
     :: bowner[pg] != t -> skip           /* queued already, or reused by another thread */
#endif
     :: else ->
        if
        :: bcnt[pg] > 0 -> push_closed(pg)
        :: else -> atomic { pool = pool | (1 << pg); bowner[pg] = 0; bcookie[pg] = 0 }
        fi
     fi;
#ifndef CODE_ADOPT_CLEAR_FIRST
     scur[t] = 0;                         /* queued first, then out of S_CUR (as closeOwn) */
#endif
     pg = 0
  :: else
  fi
}

/* The code's adoption of blocks in hand: re-queue them (tail, fresh cookie). */
inline requeue_in_hand(t) {
  p = sdrain[t];
  do
  :: p != 0 ->
     nx = bnext[p];
     if
     :: bcnt[p] > 0 -> bowner[p] = 0; push_closed(p)
     :: else -> atomic { pool = pool | (1 << p); bowner[p] = 0; bcookie[p] = 0 }
     fi;
     p = nx; nx = 0
  :: else -> break
  od;
  sdrain[t] = 0;
  /* (the code loses the dead drainer's chain, CODE_CHAIN_LOCAL; here it goes back on the
     global chain with a fresh cookie, so that this variant shows the barrier alone) */
  atomic {
    o = schain[t];
    do
    :: o != 0 -> nx = clink[o]; clink[o] = chhead; chhead = o; chcookie = SNAP; o = nx
    :: else -> break
    od;
    schain[t] = 0; nx = 0
  }
}

proctype detacher()
{
  byte me = C + 1;                          /* never killed */
  byte pg, p, nx, k, o, chain;
end:
  dead;                                     /* the worker's 'exit' event */
  atomic { bstate == LIVE -> bstate = DETACHING };   /* threads.beginDetach */
#ifdef CODE_RELEASE_FIRST
  /* releaseLocksOf(B), then adoptSlot(B): its blocks in hand go back on the list */
  atomic { if :: dlock == B + 1 -> dlock = 0 :: else fi };
  requeue_in_hand(B);
#else
  /* finish B's drain (its blocks in hand are past their GP), then release its lock */
  assert(sdrain[B] == 0 && schain[B] == 0 || dlock == B + 1);
  free_in_hand(B);
  chain = schain[B];
  free_chain(B);
  atomic { if :: dlock == B + 1 -> dlock = 0 :: else fi };
#endif
  adopt_open(B);
  bstate = FREE;                            /* threads.endDetach */
  det_done = 1;
died:
  skip
}

/* kvfreeRcuBarrier() from a third thread, then the final check. */
proctype barrier()
{
  byte me = C;
  byte pg, p, first, last, nx, k, o, chain, target, ack0, ack1;
  bit got, w0, w1, closed;
  bit pre[NOBJ + 1];

  /* objects queued before the call */
  atomic { pre[1] = (ost[1] == 1); pre[2] = (ost[2] == 1); pre[3] = (ost[3] == 1) };
  /* othersWithOpenBlocks: post REQ_KFREE */
  atomic { if :: scur[A] != 0 && bcnt[scur[A]] > 0 -> w0 = 1; ack0 = sack[A]; req[A] = 1 :: else fi };
  atomic { if :: scur[B] != 0 && bcnt[scur[B]] > 0 -> w1 = 1; ack1 = sack[B]; req[B] = 1 :: else fi };
  /* wait until closedFor() (each guard blocks until it holds: no busy polling) */
  do
  :: atomic { w0 && (sack[A] != ack0 || scur[A] == 0) -> w0 = 0 }
  :: atomic { w1 && sack[B] != ack1 -> w1 = 0 }
  :: atomic { w1 && bstate == LIVE && scur[B] == 0 -> w1 = 0 }
#ifdef CODE_BARRIER_ADOPTS
  :: w1 && bstate != LIVE ->
     adopt_open(B);                          /* closedFor: adoptSlot(o.slot) */
     atomic { if :: scur[B] == 0 -> w1 = 0 :: else fi }
#else
  :: atomic { w1 && bstate == FREE -> w1 = 0 }     /* its detacher adopted it */
#endif
  :: atomic { !w0 && !w1 -> break }
  od;
#ifndef CODE_CHAIN_BARRIER
  /* closeChain (G_LOCK): later inserts start a new open chain, so they cannot refresh the
     cookie of the objects queued before this barrier (kernel: krcp->head moves to
     krwp->head_free with its own snapshot). Only into an empty closed chain; else the
     barrier's GP covers the closed chain's cookie, its drain frees it, and it closes again. */
again:
  atomic {
    if
    :: chhead != 0 && chcl == 0 -> chcl = chhead; chccookie = SNAP; chhead = 0; chcookie = 0; closed = 1
    :: chhead != 0 && chcl != 0 -> closed = 0
    :: else -> closed = 1
    fi
  };
#else
  closed = 1;
#endif
  /* synchronize() */
#ifndef BARRIER_NO_SYNC
  atomic { target = SNAP; if :: want < target -> want = target :: else fi };
  seq >= target;
#endif
  drain(1);
#ifndef CODE_CHAIN_BARRIER
  if :: !closed -> goto again :: else fi;
#endif
  assert(!pre[1] || ost[1] == 2);
  assert(!pre[2] || ost[2] == 2);
  assert(!pre[3] || ost[3] == 2);

  /* when all is over: a final barrier; nothing may be left queued */
  a_done && (b_done || det_done);
  atomic { target = SNAP; if :: want < target -> want = target :: else fi };
  seq >= target;
  drain(1);
  assert(ost[1] != 1 && ost[2] != 1 && ost[3] != 1);
died:
  skip
}

/* Grace periods: whenever one is waited for, and at most 2 more on their own. */
active proctype gp()
{
end:
  do
  :: atomic { (want > seq || spont < SPONT) && (seq & 1) == 0 -> if :: want <= seq -> spont++ :: else fi; seq++ }
  :: atomic { (seq & 1) == 1 -> seq++ }
  od
}

init {
  atomic {
    run owner(A);
    run owner(B);
    run barrier();
    run detacher()
  }
}
