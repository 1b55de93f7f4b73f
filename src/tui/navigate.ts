import type { Key } from 'ink';
import type { JobView, NodeView } from '../daemon/control/api-types.js';
import type { RunRecord } from '../daemon/runlog/types.js';
import { matchesFilter, shortId, type Tone } from './format.js';
import type { TuiState } from './model.js';

/**
 * What the user is looking at and doing, and how each key changes it. Pure:
 * the App feeds keys in and carries out the effects (run, kill, quit).
 */

export const VIEWS = ['jobs', 'runs', 'history', 'nodes'] as const;
export type View = (typeof VIEWS)[number];
export const VIEW_TITLES: Record<View, string> = { jobs: 'Jobs', runs: 'Runs', history: 'History', nodes: 'Nodes' };

export interface KillTarget {
  job: string;
  /** Absent: every running run of the job. */
  runId?: string;
  question: string;
}

export interface NavState {
  view: View;
  /** Per view, so tabbing away and back keeps your place. Clamped on use: lists shrink. */
  cursors: Record<View, number>;
  filter: string;
  typing: boolean;
  /** History shows only this job's runs (entered from a job). */
  scope: string | null;
  /** The open log; `top` is the first line shown, null while following the end. */
  log: { runId: string; job: string; top: number | null } | null;
  confirm: KillTarget | null;
  help: boolean;
  message: { text: string; tone: Tone } | null;
}

export const initialNav = (): NavState => ({
  view: 'jobs',
  cursors: { jobs: 0, runs: 0, history: 0, nodes: 0 },
  filter: '',
  typing: false,
  scope: null,
  log: null,
  confirm: null,
  help: false,
  message: null,
});

export interface Lists {
  jobs: JobView[];
  runs: RunRecord[];
  history: RunRecord[];
  nodes: NodeView[];
}

/** The rows of each view after the filter and the job scope. */
export function listsFor(state: TuiState, filter: string, scope: string | null): Lists {
  const byName = <T extends { job: string }>(xs: T[]) => xs.filter((x) => matchesFilter(x.job, filter) && (scope === null || x.job === scope));
  const runningIds = new Set(state.running.map((r) => r.id));
  return {
    jobs: filter === '' ? state.jobs : state.jobs.filter((j) => matchesFilter(j.name, filter)),
    runs: byName(state.running),
    history: byName([...state.running, ...state.recent.filter((r) => !runningIds.has(r.id))]).sort((a, b) => b.startedMs - a.startedMs),
    nodes: state.nodes,
  };
}

export type Effect = { type: 'run'; job: string } | { type: 'kill'; target: KillTarget } | { type: 'pause' | 'resume'; job: string } | { type: 'quit' };

export interface NavContext {
  lists: Lists;
  /** Rows a page of the current list or log holds. */
  page: number;
  /** The open log's scrollback: absolute number of its first line, and how many it holds. */
  log: { first: number; count: number };
}

export interface Step {
  nav: NavState;
  effect?: Effect;
}

export const cursorOf = (nav: NavState, view: View, lists: Lists): number => Math.max(0, Math.min(nav.cursors[view], lists[view].length - 1));

/** One keypress: the App splits what arrives together (see keypress.ts) before it gets here. */
export function navigate(nav: NavState, input: string, key: Key, ctx: NavContext): Step {
  // Ink quits on a Ctrl-C of its own; one that came in with other keys reaches us instead.
  if (key.ctrl && input === 'c') return { nav, effect: { type: 'quit' } };
  if (nav.help) return { nav: { ...nav, help: false } };
  if (nav.confirm) return answerConfirm(nav, input);
  if (nav.typing) return { nav: typeFilter(nav, input, key) };
  if (key.escape) return { nav: back(nav) };
  if (key.tab) return { nav: switchView(nav, key.shift ? -1 : 1) };
  switch (input) {
    case 'q':
      return { nav, effect: { type: 'quit' } };
    case '?':
      return { nav: { ...nav, help: true } };
    case '/':
      return { nav: { ...nav, typing: true, message: null } };
    case 'r':
      return runSelected(nav, ctx.lists);
    case 'k':
      return { nav: askKill(nav, ctx.lists) };
    case 'p':
      return togglePause(nav, ctx.lists);
  }
  if (key.return) return { nav: open(nav, ctx.lists) };
  const delta = stepOf(input, key, ctx.page);
  if (delta === null) return { nav };
  return { nav: nav.log ? scrollLog(nav, delta, ctx) : move(nav, delta, ctx.lists) };
}

/** `k` is kill (the key, guarded by y/n), so only `j` has a letter; up is the arrow. */
function stepOf(input: string, key: Key, page: number): number | null {
  if (key.downArrow || input === 'j') return 1;
  if (key.upArrow) return -1;
  if (key.pageDown) return page;
  if (key.pageUp) return -page;
  if (key.home || input === 'g') return -Infinity;
  if (key.end || input === 'G') return Infinity;
  return null;
}

function move(nav: NavState, delta: number, lists: Lists): NavState {
  const n = lists[nav.view].length;
  const next = Math.max(0, Math.min(n - 1, cursorOf(nav, nav.view, lists) + delta));
  return { ...nav, cursors: { ...nav.cursors, [nav.view]: next } };
}

function scrollLog(nav: NavState, delta: number, ctx: NavContext): NavState {
  const log = nav.log!;
  const last = ctx.log.first + Math.max(0, ctx.log.count - ctx.page);
  const top = Math.max(ctx.log.first, (log.top ?? last) + delta);
  // Reaching the end resumes following, as `tail -f` readers expect.
  return { ...nav, log: { ...log, top: top >= last ? null : top } };
}

function typeFilter(nav: NavState, input: string, key: Key): NavState {
  if (key.escape) return { ...nav, typing: false, ...refilter(nav, '') };
  if (key.return) return { ...nav, typing: false };
  if (key.backspace || key.delete) return { ...nav, ...refilter(nav, nav.filter.slice(0, -1)) };
  // A control character drawn raw in the footer would move the terminal's cursor and break the screen.
  if (key.ctrl || key.meta || key.tab || input === '' || CONTROL.test(input)) return nav;
  return { ...nav, ...refilter(nav, nav.filter + input) };
}

const CONTROL = /[\u0000-\u001F\u007F]/;

/** A new filter means new rows: start each list from the top. */
const refilter = (nav: NavState, filter: string): Pick<NavState, 'filter' | 'cursors'> => ({
  filter,
  cursors: { ...nav.cursors, jobs: 0, runs: 0, history: 0 },
});

function back(nav: NavState): NavState {
  if (nav.log) return { ...nav, log: null };
  if (nav.scope !== null && nav.view === 'history') return { ...nav, scope: null };
  if (nav.filter !== '') return { ...nav, ...refilter(nav, '') };
  return { ...nav, message: null };
}

function switchView(nav: NavState, dir: 1 | -1): NavState {
  const i = VIEWS.indexOf(nav.view);
  return { ...nav, log: null, view: VIEWS[(i + dir + VIEWS.length) % VIEWS.length] };
}

function selectedRun(nav: NavState, lists: Lists): RunRecord | undefined {
  if (nav.view !== 'runs' && nav.view !== 'history') return undefined;
  return lists[nav.view][cursorOf(nav, nav.view, lists)];
}

function open(nav: NavState, lists: Lists): NavState {
  if (nav.view === 'jobs') {
    const job = lists.jobs[cursorOf(nav, 'jobs', lists)];
    return job ? { ...nav, view: 'history', scope: job.name, cursors: { ...nav.cursors, history: 0 } } : nav;
  }
  const run = selectedRun(nav, lists);
  return run ? { ...nav, log: { runId: run.id, job: run.job, top: null } } : nav;
}

function selectedJob(nav: NavState, lists: Lists): string | undefined {
  if (nav.log) return nav.log.job;
  if (nav.view === 'jobs') return lists.jobs[cursorOf(nav, 'jobs', lists)]?.name;
  return selectedRun(nav, lists)?.job;
}

function runSelected(nav: NavState, lists: Lists): Step {
  const job = selectedJob(nav, lists);
  if (!job) return { nav: { ...nav, message: { text: 'select a job (Jobs view) or a run first', tone: 'yellow' } } };
  return { nav: { ...nav, message: { text: `starting ${job}…`, tone: 'gray' } }, effect: { type: 'run', job } };
}

/** Reversible and asked for by name, so no y/n: `p` again undoes it. */
function togglePause(nav: NavState, lists: Lists): Step {
  const job = nav.view === 'jobs' && !nav.log ? lists.jobs[cursorOf(nav, 'jobs', lists)] : undefined;
  if (!job) return { nav: { ...nav, message: { text: 'select a job in the Jobs view to pause or resume it', tone: 'yellow' } } };
  const type = job.paused ? 'resume' : 'pause';
  return { nav: { ...nav, message: { text: `${type === 'pause' ? 'pausing' : 'resuming'} ${job.name}…`, tone: 'gray' } }, effect: { type, job: job.name } };
}

function askKill(nav: NavState, lists: Lists): NavState {
  const say = (text: string): NavState => ({ ...nav, message: { text, tone: 'yellow' } });
  const isRunning = (id: string) => lists.runs.some((r) => r.id === id) || lists.history.some((r) => r.id === id && r.status === 'running');
  if (nav.log) {
    const { runId, job } = nav.log;
    if (!isRunning(runId)) return say(`run ${shortId(runId)} of ${job} is not running`);
    return { ...nav, confirm: { job, runId, question: `Kill run ${shortId(runId)} of ${job}?` } };
  }
  if (nav.view === 'jobs') {
    const job = lists.jobs[cursorOf(nav, 'jobs', lists)];
    if (!job) return nav;
    if (job.running.length === 0) return say(`${job.name} is not running`);
    const hosts = [...new Set(job.running.map((r) => r.host))].join(', ');
    const what = job.running.length === 1 ? 'its running run' : `its ${job.running.length} running runs`;
    return { ...nav, confirm: { job: job.name, question: `Kill ${job.name}: ${what} on ${hosts}?` } };
  }
  const run = selectedRun(nav, lists);
  if (!run) return say('select a running job or run to kill');
  if (run.status !== 'running') return say(`run ${shortId(run.id)} of ${run.job} is not running (${run.status})`);
  return { ...nav, confirm: { job: run.job, runId: run.id, question: `Kill run ${shortId(run.id)} of ${run.job} on ${run.host}?` } };
}

function answerConfirm(nav: NavState, input: string): Step {
  const target = nav.confirm!;
  if (input === 'y' || input === 'Y') return { nav: { ...nav, confirm: null, message: { text: `killing ${target.job}…`, tone: 'gray' } }, effect: { type: 'kill', target } };
  return { nav: { ...nav, confirm: null, message: { text: 'kill cancelled', tone: 'gray' } } };
}

/** The footer's key list for where the user is. */
export function keysFor(nav: NavState): Array<readonly [string, string]> {
  const common = [['tab', 'view'], ['?', 'help'], ['q', 'quit']] as const;
  if (nav.log) return [['↑↓', 'scroll'], ['end', 'follow'], ['k', 'kill'], ['r', 'run again'], ['esc', 'back'], ...common];
  const filter = ['/', nav.filter ? `filter: ${nav.filter}` : 'filter'] as const;
  switch (nav.view) {
    case 'jobs':
      return [['↑↓', 'move'], ['enter', 'runs'], ['r', 'run now'], ['k', 'kill'], ['p', 'pause/resume'], filter, ...common];
    case 'runs':
      return [['↑↓', 'move'], ['enter', 'log'], ['k', 'kill'], ['r', 'run again'], filter, ...common];
    case 'history':
      return [['↑↓', 'move'], ['enter', 'log'], ['r', 'run'], ['k', 'kill'], nav.scope ? ['esc', 'all jobs'] : filter, ...common];
    case 'nodes':
      return [['↑↓', 'move'], ...common];
  }
}
