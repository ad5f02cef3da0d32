// Interference detection. Two sources, both read around every round:
//
// - Each case thread reads /proc/thread-self/schedstat: its CPU time and the time it
//   spent runnable but waiting for a CPU. A thread that waited, or ran for less than
//   the round lasted, shared its CPU with someone (another process, our own harness, or
//   the hypervisor: with paravirtual steal accounting, stolen time is not counted as
//   run time). This is exact to the nanosecond and names our threads only.
// - The harness reads /proc/stat for the whole machine: steal time, and the CPU time
//   other processes used (all busy time minus this process's own CPU time). Its unit is
//   a 10 ms jiffy, too coarse to judge one 20 ms round by itself, so it marks a round
//   only for steal and is reported over the whole run as context ("other processes
//   used 0.8 CPUs on average").
import { openSync, readSync, readFileSync } from 'node:fs';

const JIFFY_NS = 1e7; // USER_HZ = 100 on Linux

let fd = -1;
const buf = Buffer.alloc(128);

/** [runNs, waitNs] of the calling thread, or undefined where schedstat is missing. */
export function threadSched() {
  try {
    if (fd < 0) fd = openSync('/proc/thread-self/schedstat', 'r');
    const n = readSync(fd, buf, 0, buf.length, 0);
    const parts = buf.toString('latin1', 0, n).split(' ');
    return [Number(parts[0]), Number(parts[1])];
  } catch {
    return undefined;
  }
}

/** Machine-wide busy / idle / steal CPU time (ns), summed over CPUs, or undefined. */
export function machineCpu() {
  try {
    const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0];
    const [, user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return {
      busy: (user + nice + system + irq + softirq) * JIFFY_NS,
      idle: (idle + iowait) * JIFFY_NS,
      steal: steal * JIFFY_NS,
    };
  } catch {
    return undefined;
  }
}

/** This process's CPU time (all threads), ns. */
export function processCpu() {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

// A round is "disturbed" when any of its threads waited for a CPU for more than
// WAIT_LIMIT of the round or ran for less than RUN_LIMIT of it, or when the machine
// reported any steal during it. The limits are loose enough that the harness's own
// bookkeeping (a few microseconds per round) never trips them. They were calibrated on
// the 2-vCPU VMs this project runs on: with other processes using 0.05 CPUs, a busy
// thread's run time was a median 96% of the round and its 10th percentile 81% (the VM
// takes time from a vCPU that /proc/stat reports as steal only in whole 10 ms jiffies),
// and its wait a median 0%, 90th percentile 0.8%. Limits of 95% / 2% marked every
// repetition of every table on that quiet machine; 80% / 5% mark the tail.
export const WAIT_LIMIT = 0.05;
export const RUN_LIMIT = 0.8;

/**
 * Judges one round from its threads' slots ({ start, end, ops, run, wait, span } each,
 * times in ns) and the machine deltas. Returns the round's ns/op (wall time from the
 * first start to the last end, over every thread's operations) and the facts it was
 * judged on. With `blocks` (a variant whose threads sleep by design, such as a futex
 * lock's waiters) a low run time is the variant itself, not interference: only the wait
 * for a CPU and steal can mark the round. Without it, every futex round of two threads
 * was marked, and so every target that reads one.
 */
export function judgeRound(threads, machine, blocks = false) {
  const starts = threads.map((t) => t.start);
  const ends = threads.map((t) => t.end);
  const first = Math.min(...starts);
  const last = Math.max(...ends);
  const wall = last - first;
  // Overlap: the time all threads were running together, as a share of the batch.
  const together = Math.min(...ends) - Math.max(...starts);
  const overlap = threads.length === 1 ? 1 : Math.max(0, together) / wall;
  let worstWait = 0;
  let worstRun = 1;
  let sched = true;
  for (const t of threads) {
    if (!(t.span > 0) || Number.isNaN(t.run)) {
      sched = false;
      continue;
    }
    worstWait = Math.max(worstWait, t.wait / t.span);
    worstRun = Math.min(worstRun, t.run / t.span);
  }
  const steal = machine?.steal ?? 0;
  const disturbed = worstWait > WAIT_LIMIT || (!blocks && worstRun < RUN_LIMIT) || steal > 0;
  return {
    nsPerOp: wall / threads.reduce((n, t) => n + t.ops, 0),
    wallNs: wall,
    ops: threads.map((t) => t.ops),
    overlap,
    sched,
    worstWait,
    worstRun,
    steal,
    others: machine?.others ?? 0,
    disturbed,
  };
}
