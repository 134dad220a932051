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
    value?: number;
  }

  function core() {
    return rcu.core;
  }

  /** Spin until a GP driver sleeps waiting (G_FUTEX == -1), i.e. a GP waits for us. */
  function waitForWaitingWriter(): void {
    while (Atomics.load(i32, core().futexW) !== -1) Atomics.wait(pause, 0, 0, 1);
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
        waitForWaitingWriter();
        Atomics.store(i32, c.word!, 1);
        rcu.readUnlock();
        return true;
      }
      case 'busy-until-waited': {
        // qsbr: online, no quiescent state, until a GP waits; then flag and report one.
        port.postMessage({ type: 'busy' });
        waitForWaitingWriter();
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
      case 'call': {
        const w = c.word!;
        for (let k = 0; k < c.n!; k++) rcu.call(() => void Atomics.add(i32, w, 1));
        return rcu.pendingCallbacks;
      }
      case 'synchronize':
        rcu.synchronize();
        return true;
      case 'synchronizeAsync':
        await rcu.synchronizeAsync();
        return true;
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
