import { readdirSync, readFileSync } from 'node:fs';
import { errnoCode } from '../errno.js';

/**
 * Signals every process of the group `pgid` (a job's shell is spawned as the
 * leader of its own group, so pgid = its pid). A group that is already gone,
 * or whose members all changed to a user we may not signal, is left alone:
 * there is nothing more the daemon can do, and it must not crash over it.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  assertJobGroup(pgid);
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    const code = errnoCode(err);
    if (code !== 'ESRCH' && code !== 'EPERM') throw err;
  }
}

/**
 * Whether any process of the group is still running. Zombies do not count:
 * they are dead and only wait to be reaped, and orphans are reaped by PID 1,
 * which in some containers never does it, so they would look alive forever.
 * Where /proc is missing (macOS), existence of the group is the best answer.
 */
export function isGroupAlive(pgid: number): boolean {
  if (!groupExists(pgid)) return false;
  return hasRunningMemberInProc(pgid) ?? true;
}

/**
 * kill(-0) is the caller's own group and kill(-1) every process it may
 * signal: a pid that failed to arrive must never become one of those.
 */
export function assertJobGroup(pgid: number): void {
  if (!Number.isSafeInteger(pgid) || pgid <= 1) throw new RangeError(`not a job's process group: ${pgid}`);
}

function groupExists(pgid: number): boolean {
  assertJobGroup(pgid);
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

/** Scans /proc for a non-zombie member of the group; null when /proc is unavailable. */
function hasRunningMemberInProc(pgid: number): boolean | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  return entries.some((entry) => /^\d+$/.test(entry) && isRunningMember(entry, pgid));
}

function isRunningMember(pid: string, pgid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== null && stat.pgrp === pgid && stat.state !== 'Z';
}

/**
 * Fields of /proc/<pid>/stat after the command name, which is in parentheses
 * and may itself contain spaces and parentheses, hence the last `)`.
 */
function readProcStat(pid: string): { state: string; pgrp: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null; // exited while we were scanning
  }
  const [state, , pgrp] = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state, pgrp: Number(pgrp) };
}
