// The futex-style lock of the "before" baselines (the spin locks are written inline in
// the case modules, as they were measured before). Three states in one i32 word:
// 0 free, 1 held, 2 held with (possible) waiters. The owner that releases from 2 wakes
// one waiter; a thread that finds the lock taken marks it 2 before it sleeps, so a
// release can never miss a sleeper (the classic futex mutex). Atomics.wait blocks, so
// this lock only runs on worker threads, which is where the harness runs every case.
export function futexLock(i32, word) {
  return {
    lock() {
      let c = Atomics.compareExchange(i32, word, 0, 1);
      if (c === 0) return;
      if (c !== 2) c = Atomics.exchange(i32, word, 2);
      while (c !== 0) {
        Atomics.wait(i32, word, 2);
        c = Atomics.exchange(i32, word, 2);
      }
    },
    unlock() {
      if (Atomics.sub(i32, word, 1) !== 1) {
        Atomics.store(i32, word, 0);
        Atomics.notify(i32, word, 1);
      }
    },
  };
}
