/**
 * A scripted RCU thread for the tests: attaches through the harness, then executes
 * commands from the parent ({ id, op, ... }) and answers { id, ok, value?, error? }.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { attachHarness } from '../helpers/rcu-harness.js';
import type { WorkerInit } from '../helpers/rcu-env.js';
import { Arena } from '../../src/arena.js';
import type { Rcu } from '../../src/rcu/index.js';
import { gpHolder } from '../../src/rcu/gpmutex.js';
import { MEMB_WAITER } from '../../src/rcu/layout.js';

// `node --test dist/test/` also loads this file on the main thread: do nothing there.
if (parentPort) main(parentPort);

function main(port: MessagePort): void {
  const wd = workerData as WorkerInit;
  let rcu: Rcu;
  let i32: Int32Array;
  let slot: number;
  let gen: number;
  let detach: () => void;
  if (wd.kind === 'arena') {
    const arena = Arena.attach(wd.sab);
    arena.onWarning((w) => port.postMessage({ type: 'warning', warning: { kind: w.kind, message: w.message, report: w.report } }));
    ({ rcu, i32 } = arena);
    slot = arena.threadId;
    gen = arena.rcu.gen;
    detach = () => arena.detach();
  } else {
    const att = attachHarness(wd.init);
    att.onWarning = (w) => port.postMessage({ type: 'warning', warning: w });
    ({ rcu, i32, slot, gen } = att);
    detach = () => detach();
  }
  const pause = new Int32Array(new SharedArrayBuffer(4));

  interface Cmd {
    id: number;
    op: string;
    n?: number;
    word?: number;
    /** hold-/busy-until-waited: after the GP waits, also wait until this word is set (the test has seen the GP holder). */
    go?: number;
    value?: number;
  }

  function core() {
    return rcu.core;
  }

  /** Spin until a GP driver sleeps waiting (G_FUTEX == -1), i.e. a GP waits for us. */
  function waitForWaitingWriter(go?: number): void {
    while (Atomics.load(i32, core().futexW) !== -1) Atomics.wait(pause, 0, 0, 1);
    if (go !== undefined) while (Atomics.load(i32, go) === 0) Atomics.wait(pause, 0, 0, 1);
  }

  async function run(c: Cmd): Promise<unknown> {
    switch (c.op) {
      case 'lock':
        rcu.readLock();
        return rcu.inReadSection;
      case 'unlock':
        rcu.readUnlock();
        return rcu.inReadSection;
      case 'hold-until-waited': {
        // Enter a section, wait until a GP sleeps waiting for it, set the flag, leave.
        rcu.readLock();
        port.postMessage({ type: 'locked' });
        waitForWaitingWriter(c.go);
        Atomics.store(i32, c.word!, 1);
        rcu.readUnlock();
        return true;
      }
      case 'busy-until-waited': {
        // qsbr: online, no quiescent state, until a GP waits; then flag and report one.
        port.postMessage({ type: 'busy' });
        waitForWaitingWriter(c.go);
        Atomics.store(i32, c.word!, 1);
        rcu.quiescentState();
        return true;
      }
      case 'busy-until-word': {
        // Run synchronously (no event-loop turn, so no quiescent state) until word is set.
        port.postMessage({ type: 'busy' });
        while (Atomics.load(i32, c.word!) === 0) Atomics.wait(pause, 0, 0, 1);
        return true;
      }
      case 'set-unlock':
        // value: 1 = 'x64', 0 = 'portable'
        rcu.setUnlockPath(c.value === 1 ? 'x64' : 'portable');
        return rcu.unlockPath;
      case 'hold-for-sync': {
        // memb. Enter a section; once the parent sets word (right before its GP), stay
        // inside until a GP driver sleeps on us with MEMB_WAITER set in our reader word
        // (or 500 ms pass: a GP that does not wait for us is then caught by the parent's
        // check of word + 1). Set word + 1, then leave: with readUnlock(), or, when n is
        // 1, silently (nesting and reader word cleared by hand, no wake): exactly what
        // the x64 unlock does when a driver's CAS lands between its load and its store.
        const w = c.word!;
        rcu.readLock();
        port.postMessage({ type: 'locked' });
        while (Atomics.load(i32, w) === 0) Atomics.wait(pause, 0, 0, 1);
        const end = performance.now() + 500;
        let sawWaiter = false;
        while (performance.now() < end) {
          if (Atomics.load(i32, core().futexW) === -1 && (Atomics.load(i32, rcu.readerW) & MEMB_WAITER) !== 0) {
            sawWaiter = true;
            break;
          }
        }
        Atomics.store(i32, w + 1, 1);
        if (c.n === 1) {
          rcu.nesting = 0;
          i32[rcu.readerW] = 0;
        } else {
          rcu.readUnlock();
        }
        return { sawWaiter, path: rcu.unlockPath };
      }
      case 'call-then-busy-until-word': {
        // Queue n callbacks, then run synchronously until word is set: no event-loop
        // turn in between, so the callbacks cannot have run before the parent looks.
        const w = c.word!;
        for (let k = 0; k < c.n!; k++) rcu.call(() => void Atomics.add(i32, w, 1));
        port.postMessage({ type: 'busy' });
        while (Atomics.load(i32, c.value!) === 0) Atomics.wait(pause, 0, 0, 1);
        return true;
      }
      case 'call': {
        const w = c.word!;
        for (let k = 0; k < c.n!; k++) rcu.call(() => void Atomics.add(i32, w, 1));
        return rcu.pendingCallbacks;
      }
      case 'synchronize': {
        // true when a full grace period elapsed between the call and its return
        const cookie = rcu.getState();
        rcu.synchronize();
        return rcu.pollState(cookie);
      }
      case 'synchronizeAsync': {
        const cookie = rcu.getState();
        await rcu.synchronizeAsync();
        return rcu.pollState(cookie);
      }
      case 'sync-over-own-async': {
        // Our own async GP driver holds the GP mutex and sleeps on a reader (someone else
        // blocks the GP); then a blocking synchronize() on this same thread, which must not
        // wait for that driver (it can only resume once we return).
        const p = rcu.synchronizeAsync();
        while (!(gpHolder(i32, core().mutexW) === slot && Atomics.load(i32, core().futexW) === -1)) {
          await new Promise((r) => setTimeout(r, 1));
        }
        port.postMessage({ type: 'taking-over' });
        rcu.synchronize();
        await p;
        return true;
      }
      case 'barrier':
        rcu.barrier();
        return true;
      case 'barrierAsync':
        await rcu.barrierAsync();
        return true;
      case 'qs':
        rcu.quiescentState();
        return true;
      case 'offline':
        rcu.offline();
        return true;
      case 'online':
        rcu.online();
        return true;
      case 'detach':
        detach();
        return true;
      case 'pending':
        return rcu.pendingCallbacks;
      case 'ident':
        return { slot, gen };
      default:
        throw new Error(`unknown op ${c.op}`);
    }
  }

  port.on('message', (c: Cmd) => {
    run(c).then(
      (value) => port.postMessage({ id: c.id, ok: true, value }),
      (e: unknown) => port.postMessage({ id: c.id, ok: false, error: e instanceof Error ? e.message : String(e) }),
    );
  });
  port.postMessage({ type: 'attached', slot, gen });
}
