/*
 * sheaves.pml: the sheaves/barn allocator core (Linux 7.0 design; src/slab/core.ts), the
 * hand-off of sheaves and objects between threads, a thread killed at any step and its
 * record flushed by its detacher, and the lock breaker's rebuild from the object states,
 * checked with spin.
 *
 * Shared words modelled (file, constant)                               model variable
 *   src/layout.ts  R_SHEAF (byte address of slot 0; here its word)       rsheaf[t]
 *                  R_SHEAF_TOP (word of the next free slot; 0 = none)    rtop[t]
 *                  R_SHEAF_LIM (word one past the last slot)             rlim[t]
 *                  R_SPARE (header address; here the sheaf number)       rspare[t]
 *   src/layout.ts  SH_COUNT and the slots of sheaf s (slot k at word      cnt[s], sl[BASE(s)+k]
 *                  BASE(s)+k, BASE(s) = s*(CAP+1): sheaves far enough
 *                  apart that a TOP of one is outside any other's range,
 *                  as kmalloc strides of SH_HDR + 4*cap bytes are)
 *   src/layout.ts  C_BARN_FULL[], C_NR_FULL, C_BARN_EMPTY[], C_NR_EMPTY   bfull[], nrfull, bempty[], nrempty
 *                  (under C_BARN_LOCK; MAX_FULL/EMPTY_SHEAVES here MAXF/MAXE)
 *   src/layout.ts  C_LOCK (list_lock; owner token)                       lck (0, or thread + 1)
 *   src/layout.ts  P_FREELIST, P_INUSE of the cache's one slab; the      head, inuse, nxt[o]
 *                  free pointer of each object
 *   src/layout.ts  OS_FREE/OS_CACHED/OS_ALLOC/OS_RCU state bytes          ost[o]
 *   sheaf storage (kmalloc objects of SH_HDR + 4*cap bytes)              pool[s] (1 = not allocated)
 *   ghost: objects a user holds (thread t; passed from V to B)           hold[t], inbox
 *   ghost: objects pending in kfree_rcu (-DRECLAIM)                      rcuq[t]
 *
 * Functions whose steps are followed
 *   src/slab/cache.ts  alloc (the pop, then CACHED -> ALLOC), free (ALLOC -> CACHED, then
 *                      the push), freeChecked / freeExpecting
 *   src/slab/core.ts   allocSlow (two attempts around reclaim), replaceEmptyMain,
 *                      refillMain, allocLocked, freeToSheafSlow, replaceFullMain,
 *                      freeToSlab, freeBulk, flushSheaf, flushMain, stashEmpty, flushRecord
 *   src/slab/sheaf.ts  attachMain, detachMain / detachRecordMain (the torn-record check),
 *                      swapMainSpare, alloc / free (storage)
 *   src/slab/barn.ts   takeFull, takeEmpty, putFull, putEmpty, fullListFull
 *   src/slab/repair.ts rebuildCacheLists (FREE objects make the freelist; all else in use)
 *   src/arena.ts       detachDead -> releaseLocksOf (takeOverIfOwner of C_LOCK,
 *                      repairLocked, unlock), then flushAndFold -> flushRecord
 *   src/sync/mutex.ts  takeOverIfOwner (the lock protocol itself is mutex.pml's)
 *
 * Configuration: one cache, one slab of NOBJ objects (no new slabs, no discard: the slab
 * stays, min_partial >= 1), NSH sheaves of capacity CAP, MAXF = MAXE = 1. Thread V runs VOPS
 * user operations and may be killed at any step (the `unless` below: a killer process may
 * set `kill` at any moment); thread B runs BOPS operations and is not killed. An operation
 * is alloc(), free() of the lowest object the thread holds, or (V) passing one to B (B
 * frees it: a cross-thread free). The detacher D runs detachDead(V) once V is dead, or
 * flushes V's record after V ended (V's own detach() does the same). -DRECLAIM: B starts
 * with one object pending in kfree_rcu, which allocSlow's reclaim() frees through the
 * checked free path (kfree drainLocked -> freeOne -> freeExpecting(ptr, OS_RCU)).
 *
 * Granularity: each step of a thread is one write to shared memory (with the reads of its
 * own record folded in: nobody else reads them while it lives), so a death between any two
 * writes is explored. Folded writes, where a death between them is the same as a death
 * before both for every reader: the three clears of detachRecordMain (TOP first; LIM and
 * R_SHEAF mean nothing while TOP = 0), R_SHEAF + R_SHEAF_LIM of attachMain, the slot
 * stores + the TOP store of a push or a refill (slots past TOP are nobody's), P_FREELIST +
 * P_INUSE, an object's free pointer + the freelist head. Barn operations are one step: a
 * death inside C_BARN_LOCK leaves the barn as before the put (slot written, count not) or
 * as after the take (the sheaf in a dead local), as barn.ts says, so the barn lock's
 * takeover needs no repair. Sheaf storage comes and goes in one step (the kmalloc cache's
 * locked path, itself an instance of this protocol). The lock breaker's rebuild is one
 * step: it holds C_LOCK, and concurrent CACHED <-> ALLOC changes of live threads (lockless)
 * are both "in use" to it.
 *
 * Properties (assert; `placed` is checked in every reachable state by the monitor)
 *   - no object in two places: the freelist, a sheaf that is some record's main (by the
 *     detacher's reading of R_SHEAF/R_SHEAF_TOP) or spare or in the barn, a user's hands,
 *     kfree_rcu; and each place agrees with the state byte (sheaf: CACHED, user: ALLOC,
 *     freelist: FREE); a pop finds CACHED (no second owner)
 *   - no sheaf in two places (records' main and spare, barn full and empty lists, storage)
 *   - barn empty sheaves and freed storage hold no objects
 *   - whenever C_LOCK is free: the freelist is exactly the FREE objects, no cycle, and
 *     P_INUSE = NOBJ - its length (so also right after a repair)
 *   - at the end: nothing is lost unless V died, and what is lost (an object or a sheaf in
 *     no place) is only what V held when it died (not placed elsewhere at that moment)
 *   - alloc() returns 0 only when its own main sheaf is empty
 *   - no invalid end state (nobody waits forever on C_LOCK of a dead V)
 *
 * Variants
 *   (default)             the code of src/ (+ the fix of FINDINGS.md 8 under -DRECLAIM)   accept
 *   ATTACH_TOP_FIRST      attachMain writes R_SHEAF_TOP before R_SHEAF / R_SHEAF_LIM:
 *                         accepted, the torn-record check of detachRecordMain reads
 *                         R_SHEAF = 0 and takes the record as holding no main sheaf        accept
 *   ATTACH_TOP_FIRST + NO_TORN_CHECK  and detachRecordMain trusts any TOP != 0: the
 *                         detacher reads a sheaf header at R_SHEAF - SH_HDR = -SH_HDR       reject
 *   BARN_PUT_FIRST        replaceFullMain puts the main sheaf into the barn before it
 *                         detaches it from the record                                     reject
 *   SWAP_SPARE_FIRST      swapMainSpare writes R_SPARE = old main before the main is
 *                         detached                                                        reject
 *   FLUSH_NO_STATE_CHECK  freeBulk frees every slot without checking CACHED (with CAP=2,
 *                         BATCH=1: a death inside flushMain leaves a slot twice)           reject
 *   REPAIR_CACHED_FREE    the rebuild counts CACHED objects as free                       reject
 *   NO_REPAIR             the breaker releases C_LOCK without the rebuild                 reject
 *   CODE_RECLAIM_MAIN (finding, -DRECLAIM)  allocSlow's second attempt runs
 *                         replaceEmptyMain on a main sheaf that reclaim() refilled: alloc()
 *                         returns 0 with an object in it (assert p != 0 || ...), or, with
 *                         -DALLOW_FALSE_OOM, a full barn sheaf taken meanwhile makes the
 *                         non-empty main an "empty" barn sheaf (cnt == 0 fails): lost     reject
 */

#ifndef CAP
#define CAP 1
#endif
#ifndef BATCH
#define BATCH CAP              /* min(PCS_BATCH_MAX, sheafCap) */
#endif
#ifndef NOBJ
#define NOBJ 3
#endif
#ifndef NSH
#define NSH 3
#endif
#ifndef VOPS
#define VOPS 3
#endif
#ifndef BOPS
#define BOPS 3
#endif
#define MAXF 1
#define MAXE 1

/* -DPROBE=k: spin must reach probe point k (a reachability check of the configuration) */
#ifdef PROBE
#define REACH(k) assert(PROBE != k)
#else
#define REACH(k) skip
#endif

#define V 0
#define B 1
#define D 2

#define FREE 0
#define CACHED 1
#define ALLOC 2
#define RCU 3

#define BASE(s) ((s) * (CAP + 1))
#define SOF(w) ((w) / (CAP + 1))
#define BIT(o) (1 << (o))
#define ALLOBJ ((1 << (NOBJ + 1)) - 2)
#define ALLSH ((1 << (NSH + 1)) - 2)

byte ost[NOBJ + 1];
byte nxt[NOBJ + 1];
byte head, inuse;
byte lck;

byte sl[(NSH + 1) * (CAP + 1)];
byte cnt[NSH + 1];
bit pool[NSH + 1];

byte rsheaf[2], rtop[2], rlim[2], rspare[2];
byte bfull[MAXF], bempty[MAXE];
byte nrfull, nrempty;

byte hold[2], inbox, rcuq[2];
bit ready, kill, vdead, vdone, bdone, ddone;
byte vheldo, vheldsh;              /* ghost: what V held when it died */

hidden byte po, ps, sm, hw, hx, hs, hk, ht, hc;

/* ------------------------------------------------------------------ invariants */

inline place_sheaf(x) {
  assert((ps & BIT(x)) == 0);      /* no sheaf in two places */
  ps = ps | BIT(x)
}

/* objects in slots [lo, hi_) of a placed sheaf: CACHED, and in no other place */
inline sheaf_objs(lo, hi_) {
  assert(hi_ <= lo + CAP);
  sm = 0;
  hx = lo;
  do
  :: hx < hi_ -> assert(sl[hx] != 0 && ost[sl[hx]] == CACHED); sm = sm | BIT(sl[hx]); hx++
  :: else -> break
  od;
  assert((po & sm) == 0);
  po = po | sm
}

inline hand(mask, st) {
  for (hk : 1 .. NOBJ) {
    if :: mask & BIT(hk) -> assert(ost[hk] == st) :: else fi
  }
  assert((po & mask) == 0);
  po = po | mask
}

/* Every place, checked; po/ps: objects/sheaves placed. xv: leave out V's record and hands. */
inline placed(xv) {
  po = 0; ps = 0;
  for (hk : 1 .. NSH) {
    if :: pool[hk] -> assert(cnt[hk] == 0); place_sheaf(hk) :: else fi
  }
  for (ht : 0 .. 1) {
    if
    :: xv && ht == V -> skip
    :: else ->
       hw = rtop[ht]; hs = rsheaf[ht];
       if   /* the main sheaf as detachRecordMain reads it */
       :: hw != 0 && hs != 0 && hw >= hs && hw <= hs + CAP -> place_sheaf(SOF(hs)); sheaf_objs(hs, hw)
       :: else
       fi;
       if
       :: rspare[ht] != 0 -> place_sheaf(rspare[ht]); sheaf_objs(BASE(rspare[ht]), BASE(rspare[ht]) + cnt[rspare[ht]])
       :: else
       fi;
       hand(hold[ht], ALLOC);
       hand(rcuq[ht], RCU)
    fi
  }
  hand(inbox, ALLOC);
  for (hk : 0 .. MAXF - 1) {
    if :: hk < nrfull -> place_sheaf(bfull[hk]); sheaf_objs(BASE(bfull[hk]), BASE(bfull[hk]) + cnt[bfull[hk]]) :: else fi
  }
  for (hk : 0 .. MAXE - 1) {
    if :: hk < nrempty -> place_sheaf(bempty[hk]); assert(cnt[bempty[hk]] == 0) :: else fi
  }
  /* the slab freelist (for V's death snapshot, while V holds C_LOCK: as the rebuild will
     make it, since what V was moving under the lock is V's) */
  hw = head; hc = 0; sm = 0;
  if
  :: xv && lck == V + 1 ->
     for (hk : 1 .. NOBJ) { if :: ost[hk] == FREE -> sm = sm | BIT(hk) :: else fi }
  :: else ->
     do
     :: hw != 0 && hc <= NOBJ -> assert((sm & BIT(hw)) == 0); sm = sm | BIT(hw); hc++; hw = nxt[hw]
     :: else -> break
     od
  fi;
  if
  :: lck == 0 ->
     hs = 0;
     for (hk : 1 .. NOBJ) { if :: ost[hk] == FREE -> hs = hs | BIT(hk) :: else fi }
     assert(sm == hs && inuse == NOBJ - hc)
  :: else
  fi;
  assert((po & sm) == 0);
  po = po | sm
}

/* ------------------------------------------------------------------ barn, storage */

inline takeFull() {                /* barn.ts takeFull */
  atomic { if :: nrfull > 0 -> nrfull--; fsh = bfull[nrfull] :: else -> fsh = 0 fi }
}

inline takeEmpty() {               /* barn.ts takeEmpty (SH_COUNT = 0 once taken) */
  atomic { if :: nrempty > 0 -> nrempty--; s = bempty[nrempty]; cnt[s] = 0 :: else -> s = 0 fi }
}

inline shAlloc() {                 /* sheaf.ts alloc */
  d_step {
    hk = 1;
    do :: hk <= NSH && !pool[hk] -> hk++ :: else -> break od;
    if :: hk <= NSH -> s = hk; pool[s] = 0; cnt[s] = 0 :: else -> s = 0 fi;
    hk = 0
  }
}

inline emptyOrNew() {              /* b.takeEmpty(c) || sh.alloc(c) */
  takeEmpty();
  if :: s == 0 -> shAlloc() :: else fi
}

inline putFull(x) {                /* barn.ts putFull */
  atomic { if :: nrfull < MAXF -> bfull[nrfull] = x; nrfull++; pok = 1 :: else -> pok = 0 fi }
}

inline stashEmpty(x) {             /* core.ts stashEmpty: barn putEmpty, else sheaf storage freed */
  atomic {
    if
    :: nrempty < MAXE -> bempty[nrempty] = x; nrempty++
    :: else -> REACH(12); pool[x] = 1
    fi
  }
}

/* ------------------------------------------------------------------ record words */

/* sheaf.ts detachRecordMain(rec) -> old (0 if none or torn) */
inline detachRec(rec) {
  atomic {
    top = rtop[rec]; slots = rsheaf[rec];
    rtop[rec] = 0; rlim[rec] = 0; rsheaf[rec] = 0;
#ifdef NO_TORN_CHECK
    if
    :: top == 0 -> old = 0
    :: else ->
       n = top - slots;
       assert(slots != 0 && n >= 0 && n <= CAP);  /* else: a sheaf header at a non-sheaf address */
       old = SOF(slots)
    fi
#else
    if
    :: top == 0 || slots == 0 -> old = 0
    :: else ->
       n = top - slots;
       if :: n < 0 || n > CAP -> old = 0 :: else -> old = SOF(slots) fi
    fi
#endif
  };
  if :: old != 0 -> cnt[old] = n :: else fi;   /* SH_COUNT from the top, after TOP = 0 */
  top = 0; slots = 0; n = 0
}

/* sheaf.ts attachMain(x): R_SHEAF, R_SHEAF_LIM, then R_SHEAF_TOP */
inline attachMain(x) {
#ifdef ATTACH_TOP_FIRST
  rtop[me] = BASE(x) + cnt[x];
  atomic { rsheaf[me] = BASE(x); rlim[me] = BASE(x) + CAP }
#else
  atomic { rsheaf[me] = BASE(x); rlim[me] = BASE(x) + CAP };
  rtop[me] = BASE(x) + cnt[x]
#endif
}

/* sheaf.ts swapMainSpare */
inline swapMainSpare() {
#ifdef SWAP_SPARE_FIRST
  atomic { spare = rspare[me]; rspare[me] = (rtop[me] != 0 -> SOF(rsheaf[me]) : 0) };
  detachRec(me);
  attachMain(spare)
#else
  atomic { spare = rspare[me]; rspare[me] = 0 };
  detachRec(me);
  attachMain(spare);
  rspare[me] = old
#endif
}

/* ------------------------------------------------------------------ slab, C_LOCK */

inline lockC() { atomic { lck == 0 -> lck = me + 1 } }

/* core.ts freeBulk(objs[0..kk), CACHED): one C_LOCK hold */
inline freeBulk() {
  atomic { lck == 0 -> lck = me + 1; k = 0 };
  do
  :: atomic {
       k < kk -> o = objs[k];
#ifdef FLUSH_NO_STATE_CHECK
       doit = 1;
#else
       doit = (ost[o] == CACHED);
#endif
       if :: doit -> ost[o] = FREE :: else -> k++ fi
     };
     if :: atomic { doit -> nxt[o] = head; head = o; inuse--; k++; doit = 0 } :: else fi
  :: else -> break
  od;
  atomic { lck = 0; k = 0; kk = 0; o = 0; for (hk : 0 .. CAP - 1) { objs[hk] = 0 } }
}

/* core.ts flushSheaf(x): SH_COUNT = 0, then the copies back to the slab */
inline flushSheaf(x) {
  atomic { kk = cnt[x]; for (hk : 0 .. CAP - 1) { if :: hk < kk -> objs[hk] = sl[BASE(x) + hk] :: else fi }; cnt[x] = 0 };
  if :: kk > 0 -> freeBulk() :: else fi
}

/* core.ts flushMain(rec = own, BATCH): out of the sheaf first, then freed */
inline flushMain() {
  atomic {
    slots = rsheaf[me]; n = rtop[me] - slots; kk = (n < BATCH -> n : BATCH);
    for (hk : 0 .. CAP - 1) { if :: hk < kk -> objs[hk] = sl[slots + hk] :: else fi }
  };
  if
  :: kk > 0 ->
     atomic { k = 0; do :: k + kk < n -> sl[slots + k] = sl[slots + k + kk]; k++ :: else -> break od; k = 0 };  /* copyWithin */
     rtop[me] = slots + n - kk;
     freeBulk()
  :: else
  fi;
  slots = 0; n = 0
}

/* core.ts freeToSlab(x, expect) */
inline freeToSlab(x, expect) {
  lockC();
  atomic { if :: ost[x] == expect -> ost[x] = FREE; doit = 1 :: else -> doit = 0 fi };
  if :: atomic { doit -> nxt[x] = head; head = x; inuse--; doit = 0 } :: else fi;
  lck = 0
}

/* core.ts refillMain -> j objects added */
inline refillMain() {
  atomic { top = rtop[me]; want = rlim[me] - top };
  atomic { lck == 0 -> lck = me + 1; o = head; j = 0 };
  do
  :: atomic { o != 0 && j < want -> nx = nxt[o]; assert(ost[o] == FREE); ost[o] = CACHED; take[j] = o; j++; o = nx }
  :: else -> break
  od;
  atomic { head = o; inuse = inuse + j; o = 0; nx = 0 };
  lck = 0;
  atomic {   /* slots newest-last, then the top once */
    for (hk : 0 .. CAP - 1) { if :: hk < j -> sl[top + j - 1 - hk] = take[hk]; take[hk] = 0 :: else fi };
    rtop[me] = top + j; top = 0; want = 0
  }
}

/* core.ts allocLocked -> p (0 if the slab has none) */
inline allocLocked() {
  lockC();
  if
  :: head != 0 ->
     atomic { p = head; ost[p] = ALLOC };
     atomic { head = nxt[p]; inuse++ };
     atomic { lck = 0; hold[me] = hold[me] | BIT(p) }
  :: else -> atomic { lck = 0; p = 0 }
  fi
}

/* ------------------------------------------------------------------ sheaf slow paths */

/* core.ts replaceEmptyMain -> ok */
inline replaceEmptyMain() {
  ok = 0;
  if
#ifndef CODE_RECLAIM_MAIN
#ifdef RECLAIM
  :: rtop[me] > rsheaf[me] -> ok = 1   /* the fix: a main sheaf that reclaim() refilled is used as it is */
#endif
#endif
  :: rspare[me] != 0 && cnt[rspare[me]] > 0 -> REACH(2); swapMainSpare(); ok = 1
  :: else ->
     takeFull();
     if
     :: fsh != 0 ->
        REACH(1);                  /* a full sheaf from the barn */
        detachRec(me);
        attachMain(fsh);
        if :: old != 0 -> stashEmpty(old) :: else fi;
        ok = 1
     :: else ->
        if
        :: rtop[me] == 0 ->
           if
           :: rspare[me] != 0 -> atomic { s = rspare[me]; rspare[me] = 0 }
           :: else -> emptyOrNew()
           fi;
           if :: s != 0 -> attachMain(s) :: else fi
        :: else
        fi;
        if
        :: rtop[me] != 0 -> refillMain(); ok = (j > 0); j = 0
        :: else
        fi
     fi
  fi;
  s = 0; old = 0; fsh = 0; spare = 0
}

/* core.ts replaceFullMain -> ok */
inline replaceFullMain() {
  ok = 0;
  if
  :: rtop[me] == 0 ->
     emptyOrNew();
     if :: s != 0 -> attachMain(s); ok = 1 :: else fi
  :: rtop[me] != 0 && rtop[me] < rlim[me] -> ok = 1
  :: else ->
     fm = 1;
     if
     :: rspare[me] == 0 ->
        emptyOrNew();
        if :: s != 0 -> REACH(3); detachRec(me); rspare[me] = old; attachMain(s); ok = 1; fm = 0 :: else fi
     :: rspare[me] != 0 && cnt[rspare[me]] < CAP -> REACH(4); swapMainSpare(); ok = 1; fm = 0
     :: rspare[me] != 0 && cnt[rspare[me]] >= CAP && nrfull < MAXF ->
        emptyOrNew();
        if
        :: s != 0 ->
#ifdef BARN_PUT_FIRST
           atomic { old = SOF(rsheaf[me]); cnt[old] = rtop[me] - rsheaf[me] };
           putFull(old);
           detachRec(me);
#else
           detachRec(me);
           putFull(old);
#endif
           if
           :: !pok -> REACH(6); flushSheaf(old); attachMain(old); stashEmpty(s)
           :: else -> REACH(5); attachMain(s)
           fi;
           ok = 1; fm = 0; pok = 0
        :: else
        fi
     :: rspare[me] != 0 && cnt[rspare[me]] >= CAP && nrfull >= MAXF ->
        atomic { REACH(7); spare = rspare[me]; rspare[me] = 0 };
        flushSheaf(spare);
        rspare[me] = spare;
        swapMainSpare();
        ok = 1; fm = 0
     fi;
     if :: fm -> REACH(8); flushMain(); ok = (rtop[me] < rlim[me]); fm = 0 :: else fi
  fi;
  s = 0; old = 0; spare = 0
}

/* core.ts freeToSheafSlow(x) (x ALLOC, checked by the caller) */
inline freeToSheafSlow(x) {
  replaceFullMain();
  if
  :: ok -> atomic { top = rtop[me]; ost[x] = CACHED }; atomic { sl[top] = x; rtop[me] = top + 1; top = 0 }
  :: else -> freeToSlab(x, ALLOC)
  fi;
  ok = 0
}

/* arena.ts reclaim -> kfree drain -> freeOne -> freeExpecting(q, OS_RCU) -> freeToSheafSlow */
inline reclaim() {
#ifdef RECLAIM
  if
  :: rcuq[me] != 0 ->
     atomic { q = 1; do :: !(rcuq[me] & BIT(q)) -> q++ :: else -> break od; rcuq[me] = rcuq[me] & ~BIT(q); ost[q] = ALLOC };
     freeToSheafSlow(q);
     q = 0; rok = 1
  :: else -> rok = 0
  fi
#else
  rok = 0
#endif
}

/* cache.ts alloc, core.ts allocSlow */
inline allocOp() {
  atomic { top = rtop[me]; if :: top > rsheaf[me] -> p = sl[top - 1]; rtop[me] = top - 1; fast = 1 :: else -> fast = 0 fi; top = 0 };
  if
  :: fast -> atomic { assert(ost[p] == CACHED); ost[p] = ALLOC; hold[me] = hold[me] | BIT(p); fast = 0 }
  :: else ->
     attempt = 0;
     do
     :: attempt < 2 ->
        replaceEmptyMain();
        if
        :: ok ->
           atomic { top = rtop[me] - 1; p = sl[top]; rtop[me] = top; top = 0 };
           atomic { assert(ost[p] == CACHED); ost[p] = ALLOC; hold[me] = hold[me] | BIT(p); ok = 0 };
           break
        :: else
        fi;
        if
        :: rtop[me] == 0 -> allocLocked(); if :: p != 0 -> break :: else fi
        :: else
        fi;
        if
        :: attempt == 0 -> reclaim(); if :: !rok -> break :: else fi
        :: else
        fi;
        attempt++
     :: else -> break
     od;
     /* alloc() returns 0 ("arena exhausted") only with nothing in its own main sheaf */
#ifndef ALLOW_FALSE_OOM
     atomic { assert(p != 0 || rtop[me] <= rsheaf[me]); attempt = 0; rok = 0 }
#else
     atomic { attempt = 0; rok = 0 }
#endif
  fi;
  p = 0
}

/* cache.ts free(p) of the lowest object in `mask` (the user lets go of it first) */
inline freeOp(mask) {
  atomic {
    p = 1; do :: !(mask & BIT(p)) -> p++ :: else -> break od;
    hold[me] = hold[me] & ~BIT(p); inbox = inbox & ~BIT(p);
    top = rtop[me];
    if :: top < rlim[me] && ost[p] == ALLOC -> ost[p] = CACHED; fast = 1 :: else -> fast = 0 fi
  };
  if
  :: fast -> atomic { sl[top] = p; rtop[me] = top + 1; fast = 0; top = 0 }
  :: else -> top = 0; freeToSheafSlow(p)
  fi;
  p = 0
}

/* ------------------------------------------------------------------ processes */

proctype thread(byte me; byte nops)
{
  byte top, p, o, nx, j, want, s, old, fsh, spare, slots, k, kk, attempt, q;
  short n;
  byte take[CAP], objs[CAP];
  bit ok, fast, doit, pok, fm, rok;
  {
    do
    :: nops > 0 ->
       nops--;
       if
       :: allocOp()
       :: hold[me] != 0 -> freeOp(hold[me])
       :: me == V && hold[V] != 0 ->       /* V passes an object to B */
          atomic { p = 1; do :: !(hold[V] & BIT(p)) -> p++ :: else -> break od; hold[V] = hold[V] & ~BIT(p); inbox = inbox | BIT(p); p = 0 }
       :: me == B && inbox != 0 -> REACH(11); freeOp(inbox)
       fi
    :: else -> break
    od;
    if :: me == V -> vdone = 1 :: else -> bdone = 1 fi
  } unless {
    atomic { me == V && kill -> vdead = 1 }   /* V takes no step once kill is set */
  }
}

/* terminate() of V, at any moment while it runs */
active proctype killer()
{
#ifndef NO_KILL
end:
  /* what V holds now: what is not placed elsewhere (V's next step is its death) */
  d_step { ready && !vdone -> placed(1); vheldo = ~po & ALLOBJ; vheldsh = ~ps & ALLSH; kill = 1 }
#endif
}

/* src/repair.ts rebuildCacheLists (the caller holds C_LOCK) */
inline rebuild() {
  head = 0; hc = 0;
  for (hk : 1 .. NOBJ) {
    ht = NOBJ + 1 - hk;
#ifdef REPAIR_CACHED_FREE
    if :: ost[ht] == FREE || ost[ht] == CACHED -> nxt[ht] = head; head = ht; hc++ :: else fi
#else
    if :: ost[ht] == FREE -> nxt[ht] = head; head = ht; hc++ :: else fi
#endif
  }
  inuse = NOBJ - hc
}

/* arena.ts detachDead(V): releaseLocksOf, then flushAndFold -> flushRecord (or V's own detach()) */
proctype detacher(byte me)
{
  byte top, o, s, old, spare, slots, k, kk;
  short n;
  byte objs[CAP];
  bit doit;
end:
  atomic { vdead || vdone };
  if
  :: atomic { lck == V + 1 -> lck = me + 1; REACH(10);  /* takeOverIfOwner */
#ifndef NO_REPAIR
       d_step { rebuild() }                     /* repairLocked */
#endif
     };
     lck = 0                                    /* unlock */
  :: else
  fi;
  /* flushRecord(V): the spare, then the main sheaf, each out of the record first */
  if
  :: rspare[V] != 0 ->
     atomic { REACH(9); spare = rspare[V]; rspare[V] = 0 };
     flushSheaf(spare);
     atomic { pool[spare] = 1; spare = 0 }
  :: else
  fi;
  detachRec(V);
  if :: old != 0 -> flushSheaf(old); atomic { pool[old] = 1; old = 0 } :: else fi;
  ddone = 1
}

active proctype monitor()
{
  d_step { ready -> placed(0) }
}

active proctype final()
{
end:
  atomic { (vdead || vdone) && bdone && ddone };
  d_step {
    placed(0);
    /* a thread that did not die lost nothing; a dead one only what it held */
    assert(vdead || ((~po & ALLOBJ) == 0 && (~ps & ALLSH) == 0));
    assert((~po & ALLOBJ & ~vheldo) == 0 && (~ps & ALLSH & ~vheldsh) == 0)
  }
}

/* Starting configurations. Default: cold (every sheaf in storage, every object free).
   WARM (CAP 1): V's main sheaf 1 holds object 1, its spare (sheaf 2) object 2, V's user
   holds object 3; B's record is empty. With RECLAIM, object 4 is B's, pending in kfree_rcu;
   with BARNFULL, the barn's full list (MAXF = 1) holds sheaf 3 with object 4.
   FLUSHMAIN (CAP 2, NSH 1): V's main sheaf 1 holds objects 1 and 2, V's user holds 3; no
   other sheaf storage can be had, so V's free of 3 trims its main sheaf (flushMain). */
init {
  atomic {
    for (hk : 1 .. NSH) { pool[hk] = 1 }
#if defined(WARM) || defined(FLUSHMAIN)
    pool[1] = 0; sl[BASE(1)] = 1; ost[1] = CACHED;
    rsheaf[V] = BASE(1); rlim[V] = BASE(1) + CAP; rtop[V] = BASE(1) + 1;
    ost[3] = ALLOC; hold[V] = BIT(3);
#ifdef FLUSHMAIN
    sl[BASE(1) + 1] = 2; ost[2] = CACHED; rtop[V] = BASE(1) + 2;
#else
    pool[2] = 0; sl[BASE(2)] = 2; cnt[2] = 1; ost[2] = CACHED; rspare[V] = 2;
#endif
#endif
#ifdef RECLAIM
    ost[4] = RCU; rcuq[B] = BIT(4);
#endif
#ifdef BARNFULL
    pool[3] = 0; sl[BASE(3)] = 4; cnt[3] = 1; ost[4] = CACHED; bfull[0] = 3; nrfull = 1;
#endif
    head = 0; hc = 0;              /* the slab: its FREE objects make the freelist */
    for (hk : 1 .. NOBJ) {
      ht = NOBJ + 1 - hk;
      if :: ost[ht] == FREE -> nxt[ht] = head; head = ht; hc++ :: else fi
    }
    inuse = NOBJ - hc; hk = 0; ht = 0; hc = 0;
    run thread(V, VOPS);
    run thread(B, BOPS);
    run detacher(D);
    ready = 1
  }
}
