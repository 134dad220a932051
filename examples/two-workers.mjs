// Two workers share one arena: a producer allocates "points" and fills them, a consumer
// reads them and frees them (a free from another thread than the allocating one).
// Run from a clone after `npm run build`: node examples/two-workers.mjs
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Arena, defineStruct } from 'slabrcu';

const Point = defineStruct({ x: 'u32', y: 'u32' });
const N = 1000;

if (isMainThread) {
  const arena = Arena.create({ bytes: 8 << 20 });
  const cache = arena.createCache('point', { size: Point.size, align: Point.align });
  const start = (role) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { sab: arena.sab, role } });
    arena.watch(w); // if it exits without detaching, its slot is detached for it
    return w;
  };
  const producer = start('producer');
  const consumer = start('consumer');
  const exited = (w) => new Promise((resolve) => w.once('exit', resolve));
  const done = Promise.all([exited(producer), exited(consumer)]);
  // The pointers are plain numbers (byte offsets into arena.sab): post them along.
  producer.once('message', (m) => {
    console.log(`producer: allocated ${m.ptrs.length} points`);
    consumer.postMessage(m.ptrs);
  });
  consumer.once('message', (m) => console.log(`consumer: sum of x + y = ${m.sum}, freed ${m.freed} points`));
  await done;
  console.log(`main: objects in use ${cache.stats().objects}`);
  console.log(`main: destroy -> ${(await cache.destroy()).status}`);
} else {
  const arena = Arena.attach(workerData.sab);
  const cache = arena.findCache('point');
  if (cache === undefined) throw new Error('no cache named point');
  if (workerData.role === 'producer') {
    const ptrs = [];
    for (let i = 0; i < N; i++) {
      const p = cache.alloc();
      if (p === 0) throw new Error('arena exhausted');
      Point.write(arena, p, { x: i, y: 2 * i });
      ptrs.push(p);
    }
    arena.detach(); // flush this thread's cached slab; the objects stay allocated
    parentPort.postMessage({ ptrs });
  } else {
    parentPort.once('message', (ptrs) => {
      let sum = 0;
      for (const p of ptrs) {
        sum += Point.get(arena, p, 'x') + Point.get(arena, p, 'y');
        cache.free(p);
      }
      arena.detach();
      parentPort.postMessage({ sum, freed: ptrs.length });
    });
  }
}
