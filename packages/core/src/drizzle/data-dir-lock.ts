import { randomUUID } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Embedded PGlite is single-process: two processes on one data folder would corrupt it. A lock
 * file beside the folder turns that into a clear error (use the API while the server runs, or
 * stop it first).
 */
export interface DataDirLock {
  /**
   * The folder with every symlink resolved. PGlite must be given this path: its file system
   * fails on a path through a symlink (ENOENT from inside WebAssembly). The lock is named after
   * it too, so one folder reached by two paths is one lock.
   */
  dir: string;
  release(): void;
}

/** What a lock file records: enough to tell its process from a later one given the same PID. */
interface LockHolder {
  pid: number;
  /** A lock from another machine (a shared volume) names a process this one cannot look at. */
  hostname?: string;
  /** Linux: the boot the process ran in; a lock from before a restart is stale whatever its PID. */
  bootId?: string;
  /** Linux: when the process started, in clock ticks after boot (/proc/<pid>/stat, field 22). */
  startTime?: number;
}

/** Lock files of the folders this process has open (by a handle not yet closed). */
const openDataDirs = new Set<string>();

/** Enough for a few stale locks replaced by others at the same moment; never reached in practice. */
const maxAttempts = 50;

export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const dir = realpathSync(dataDir);
  const lockFile = `${dir}.lock`;
  if (openDataDirs.has(lockFile)) {
    throw new Error(`The embedded database in ${dataDir} is already open in this process`);
  }
  const record = JSON.stringify(currentHolder());
  for (let attempt = 1; !createExclusive(lockFile, record); attempt++) {
    if (attempt >= maxAttempts) {
      throw new Error(`Could not lock the embedded database in ${dataDir}: ${lockFile} kept changing. Try again.`);
    }
    const raw = readIfExists(lockFile);
    // Released between our attempt and the read: try again.
    if (raw === undefined) continue;
    const holder = parseHolder(raw);
    if (holder && !isStale(holder)) throw new Error(describeHolder(dataDir, lockFile, holder));
    removeStaleLock(lockFile, raw, record);
  }
  openDataDirs.add(lockFile);
  return {
    dir,
    release: () => {
      openDataDirs.delete(lockFile);
      // Only our own lock: one judged stale meanwhile (a clock or host change) is no longer ours to remove.
      if (readIfExists(lockFile) === record) rmSync(lockFile, { force: true });
    },
  };
}

/**
 * A stale lock is removed under a second lock (`….lock.breaking`): two processes that both judged
 * the same lock stale must not both remove it, or the later one would remove the lock the earlier
 * one has just created in its place and both would open the folder.
 */
function removeStaleLock(lockFile: string, stale: string, record: string): void {
  const breaking = `${lockFile}.breaking`;
  if (!createExclusive(breaking, record)) {
    const raw = readIfExists(breaking);
    const breaker = raw === undefined ? undefined : parseHolder(raw);
    if (breaker && !isStale(breaker)) {
      // Another process is replacing the stale lock this instant; its result decides.
      sleep(10);
    } else if (raw !== undefined) {
      // Left by a process that died mid-replacement (a window of microseconds).
      rmSync(breaking, { force: true });
    }
    return;
  }
  try {
    if (readIfExists(lockFile) === stale) rmSync(lockFile, { force: true });
  } finally {
    rmSync(breaking, { force: true });
  }
}

/**
 * Creates `path` holding `content` only if no such file exists, atomically: the content is written
 * to a private file first and then hard-linked into place (a link to a taken name fails, as an
 * O_EXCL open does), so no reader ever sees a lock that exists but is not written yet.
 */
function createExclusive(path: string, content: string): boolean {
  const draft = `${path}.${process.pid}-${randomUUID()}`;
  writeFileSync(draft, content, { flag: 'wx' });
  try {
    linkSync(draft, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(draft, { force: true });
  }
}

function isStale(holder: LockHolder): boolean {
  if (holder.hostname !== undefined && holder.hostname !== hostname()) return false;
  const boot = bootId();
  if (holder.bootId !== undefined && boot !== undefined && holder.bootId !== boot) return true;
  // A lock with only a PID (older guanxi, or no /proc) naming our own PID was left by an earlier process.
  if (holder.startTime === undefined) return holder.pid === process.pid || !processIsAlive(holder.pid);
  if (!processIsAlive(holder.pid)) return true;
  // The PID was given to a newer process; where /proc cannot tell, the PID alone decides.
  const started = processStartTime(holder.pid);
  return started !== undefined && started !== holder.startTime;
}

function describeHolder(dataDir: string, lockFile: string, holder: LockHolder): string {
  if (holder.hostname !== undefined && holder.hostname !== hostname()) {
    return (
      `The embedded database in ${dataDir} is open in process ${holder.pid} on ${holder.hostname} ` +
      `(a running server there?). If nothing runs there any more, delete ${lockFile}.`
    );
  }
  if (holder.pid === process.pid) {
    return `The embedded database in ${dataDir} is already open in this process`;
  }
  const command = processCommand(holder.pid);
  return (
    `The embedded database in ${dataDir} is open in process ${holder.pid} (a running server?)` +
    `${command ? `: ${command}` : ''}. While it runs, use the API (createTenant, runScoring), or stop it first.`
  );
}

function parseHolder(raw: string): LockHolder | undefined {
  const text = raw.trim();
  // Written before lock files recorded more than the PID.
  if (/^\d+$/.test(text)) return { pid: Number(text) };
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!value || typeof value !== 'object' || !Number.isSafeInteger(value.pid) || (value.pid as number) <= 0) {
    return undefined;
  }
  return {
    pid: value.pid as number,
    ...(typeof value.hostname === 'string' ? { hostname: value.hostname } : {}),
    ...(typeof value.bootId === 'string' ? { bootId: value.bootId } : {}),
    ...(Number.isSafeInteger(value.startTime) ? { startTime: value.startTime as number } : {}),
  };
}

function currentHolder(): LockHolder {
  const boot = bootId();
  const started = processStartTime(process.pid);
  return {
    pid: process.pid,
    hostname: hostname(),
    ...(boot !== undefined ? { bootId: boot } : {}),
    ...(started !== undefined ? { startTime: started } : {}),
  };
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** When `pid` started, in clock ticks after boot; undefined where there is no /proc (macOS, Windows). */
function processStartTime(pid: number): number | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // Field 2, the command name, is in parentheses and may itself hold spaces and parentheses;
  // field 22 is the 20th after it.
  const value = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** The holder's command line, so the refusal names a process a person can recognise. */
function processCommand(pid: number): string | undefined {
  const command = readProc(`/proc/${pid}/cmdline`)?.split('\0').join(' ').trim();
  if (!command) return undefined;
  return command.length > 120 ? `${command.slice(0, 119)}…` : command;
}

function bootId(): string | undefined {
  return readProc('/proc/sys/kernel/random/boot_id')?.trim() || undefined;
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** /proc may be missing, or hide other users' processes (hidepid): then it cannot tell. */
function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
