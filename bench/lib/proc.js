/**
 * Reading processes from /proc: the process tree under a PID, CPU time (utime + stime) and resident memory.
 * Linux only; on other systems the figures come back as null and the table says "n/a".
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clockTicks = /** @type {number | null} */ (null);

/** USER_HZ: the unit of utime/stime in /proc/PID/stat (100 nearly everywhere). */
function ticksPerSecond() {
  if (clockTicks === null) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function childrenOf(pid) {
  try {
    const tasks = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return tasks === '' ? [] : tasks.split(' ').map(Number);
  } catch {
    return [];
  }
}

/** The PID and all its descendants (nginx master + worker, taskset-less children of cluster primaries). */
export function processTree(pid) {
  const tree = [pid];
  for (let i = 0; i < tree.length && tree.length < 1024; i += 1) {
    tree.push(...childrenOf(/** @type {number} */ (tree[i])));
  }
  return tree;
}

/** utime + stime of one process, in seconds (all its threads), or null when it is gone. @param {number} pid */
function cpuSecondsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) is in parentheses and may hold spaces; fields 14 and 15 are utime and stime.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return null;
  }
}

/** utime and stime of one process, in seconds, apart; or null when it is gone. */
function cpuSplitOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(fields[11]) / ticksPerSecond(), sys: Number(fields[12]) / ticksPerSecond() };
  } catch {
    return null;
  }
}

/** User and system CPU seconds of a whole process tree, apart (HAProxy's time is mostly the kernel's). */
export function treeCpuSplit(pid) {
  let user = 0;
  let sys = 0;
  let isFound = false;
  for (const member of processTree(pid)) {
    const split = cpuSplitOf(member);
    if (split !== null) {
      user += split.user;
      sys += split.sys;
      isFound = true;
    }
  }
  return isFound ? { user, sys } : null;
}

/**
 * The sum of one figure over a process tree, or null when no member of it could be read.
 * @param {number} pid
 * @param {(member: number) => number | null} figureOf
 */
function sumOverTree(pid, figureOf) {
  let total = 0;
  let isFound = false;
  for (const member of processTree(pid)) {
    const figure = figureOf(member);
    if (figure !== null) {
      total += figure;
      isFound = true;
    }
  }
  return isFound ? total : null;
}

/** CPU seconds of a whole process tree. @param {number} pid */
export function treeCpuSeconds(pid) {
  return sumOverTree(pid, cpuSecondsOf);
}

/** VmRSS of one process in KiB, or null when it is gone. @param {number} pid @returns {number | null} */
export function rssKiB(pid) {
  try {
    const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** Resident memory of a whole process tree in KiB. @param {number} pid */
export function treeRssKiB(pid) {
  return sumOverTree(pid, rssKiB);
}

/** Open file descriptors of one process (/proc/PID/fd); throws when it is gone. @param {number} pid */
export function openFdCount(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * Busy and steal seconds of the CPUs in a taskset list ("1", "0,2-3") from /proc/stat, or null. Busy is every
 * state but idle and iowait; steal is time the hypervisor gave to someone else.
 * @param {string} cpuList
 */
export function cpuBusySeconds(cpuList) {
  const wanted = new Set();
  for (const part of cpuList.split(',')) {
    const [from, to] = part.split('-').map(Number);
    if (from === undefined || !Number.isInteger(from)) continue;
    for (let cpu = from; cpu <= (to ?? from); cpu += 1) wanted.add(`cpu${cpu}`);
  }
  let text = '';
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return null;
  }
  let busy = 0;
  let steal = 0;
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (!wanted.has(fields[0])) continue;
    const [user, nice, system, , , irq, softirq, stolen] = fields.slice(1, 9).map(Number);
    busy += (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (stolen ?? 0);
    steal += stolen ?? 0;
  }
  return { busy: busy / ticksPerSecond(), steal: steal / ticksPerSecond() };
}
