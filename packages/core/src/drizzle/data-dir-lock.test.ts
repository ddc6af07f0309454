import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { lockDataDir } from './data-dir-lock';

const root = fileURLToPath(new URL('../../../..', import.meta.url));
const lockModule = fileURLToPath(new URL('./data-dir-lock.ts', import.meta.url));

/**
 * A server starting, as a process of its own: once loaded it says so, locks the folder at the
 * instant it is given (so several race for real), reports, and holds the lock until stdin closes.
 */
const startingServer = `
const { lockDataDir } = await import(process.argv[1]);
const report = (answer) => console.log(JSON.stringify({ pid: process.pid, ...answer }));
let lock;
process.stdin.setEncoding('utf8').once('data', (at) => {
  while (Date.now() < Number(at));
  try {
    lock = lockDataDir(process.argv[2]);
    report({ won: true });
  } catch (error) {
    report({ won: false, message: error.message });
  }
});
process.stdin.once('end', () => lock?.release());
report({ ready: true });
`;

/**
 * A server that keeps crashing and being restarted, from the instant it is given until it has
 * opened the folder a number of times (or a deadline passes): each time it claims a marker file no
 * other holder may have at the same time, then dies, leaving its lock behind (rewritten to name a
 * process that has ended), so nearly every start takes over a stale lock while the others try too.
 */
const crashingServer = `
import { closeSync, openSync, rmSync, writeFileSync } from 'node:fs';
const { lockDataDir } = await import(process.argv[1]);
const [dataDir, marker, staleLock] = process.argv.slice(2);
process.stdin.setEncoding('utf8').once('data', (line) => {
  const [from, times, deadline] = line.split(' ').map(Number);
  while (Date.now() < from);
  let opened = 0, together = 0;
  const unexpected = [];
  while (opened < times && Date.now() < deadline) {
    let lock;
    try {
      lock = lockDataDir(dataDir);
    } catch (error) {
      if (!/is open in process|kept changing/.test(error.message)) unexpected.push(error.message);
      continue;
    }
    opened++;
    let alone = true;
    try {
      closeSync(openSync(marker, 'wx'));
    } catch {
      alone = false;
      together++;
    }
    for (const end = Date.now() + 1; Date.now() < end; );
    if (alone) rmSync(marker);
    writeFileSync(lock.dir + '.lock', staleLock);
    lock.release();
  }
  console.log(JSON.stringify({ pid: process.pid, opened, together, unexpected }));
});
console.log(JSON.stringify({ ready: true }));
`;

/** A script run as its own process, told when to act by a line on stdin; it answers in JSON lines. */
function runScript(script: string, args: string[]) {
  const node = ['--import', 'tsx', '--input-type=module', '-e', script, lockModule];
  const child = spawn(process.execPath, [...node, ...args], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await lines.next()).value as string);
  const ready: Promise<unknown> = next();
  return {
    ready,
    tell: async (line: string) => {
      await ready;
      child.stdin!.write(`${line}\n`);
      return next();
    },
    stop: () => {
      child.stdin!.end();
      return exited;
    },
  };
}

interface Answer {
  pid: number;
  won: boolean;
  message?: string;
}

function startServer(dataDir: string) {
  const server = runScript(startingServer, [dataDir]);
  /** Locks at `at` (ms since the epoch) and answers whether it won. */
  const lockAt = (at: number) => server.tell(String(at)) as Promise<Answer>;
  return { ...server, lockAt };
}

/** The PID of a process that has already exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

let dir: string;
let dataDir: string;
let lockFile: string;
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'guanxi-lock-')));
  dataDir = join(dir, 'data');
  lockFile = `${dataDir}.lock`;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('servers starting at the same instant on one data folder', () => {
  test('exactly one opens it, the others are told which process has it', { timeout: 60_000 }, async () => {
    const servers = Array.from({ length: 6 }, () => startServer(dataDir));
    let answers: Answer[];
    try {
      await Promise.all(servers.map((server) => server.ready));
      const at = Date.now() + 300;
      answers = await Promise.all(servers.map((server) => server.lockAt(at)));
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
    }
    const winners = answers.filter((answer) => answer.won);
    expect(winners, JSON.stringify(answers)).toHaveLength(1);
    for (const loser of answers.filter((answer) => !answer.won)) {
      expect(loser.message).toContain(`is open in process ${winners[0]!.pid} (a running server?)`);
    }
    expect(existsSync(lockFile)).toBe(false);
  });

  test('taking over stale locks, never two hold the folder at once', { timeout: 60_000 }, async () => {
    const marker = join(dir, 'holder');
    const staleLock = JSON.stringify({ pid: await deadPid(), hostname: hostname() });
    writeFileSync(lockFile, staleLock);
    const servers = Array.from({ length: 4 }, () => runScript(crashingServer, [dataDir, marker, staleLock]));
    try {
      await Promise.all(servers.map((server) => server.ready));
      const from = Date.now() + 300;
      const runs = (await Promise.all(servers.map((server) => server.tell(`${from} 150 ${from + 30_000}`)))) as {
        opened: number;
        together: number;
        unexpected: string[];
      }[];
      const summary = JSON.stringify(runs);
      expect(runs.flatMap((run) => run.unexpected), summary).toEqual([]);
      expect(runs.reduce((sum, run) => sum + run.together, 0), summary).toBe(0);
      // Positive control: the stale lock was taken over again and again, by every server.
      for (const run of runs) expect(run.opened, summary).toBe(150);
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
    }
  });
});

describe('a lock left behind', () => {
  test('naming a process that ended (bare PID, as older versions wrote) is taken over', async () => {
    writeFileSync(lockFile, String(await deadPid()));
    const lock = lockDataDir(dataDir);
    expect(JSON.parse(readFileSync(lockFile, 'utf8'))).toMatchObject({ pid: process.pid, hostname: hostname() });
    lock.release();
    expect(existsSync(lockFile)).toBe(false);
  });

  test('from another machine is refused, saying which file to delete', () => {
    writeFileSync(lockFile, JSON.stringify({ pid: 4242, hostname: 'elsewhere.example' }));
    expect(() => lockDataDir(dataDir)).toThrow(
      'is open in process 4242 on elsewhere.example (a running server there?). ' +
        `If nothing runs there any more, delete ${lockFile}.`,
    );
  });
});

// Telling a reused PID from its first process needs /proc (Linux); elsewhere the PID alone decides.
describe.skipIf(!existsSync('/proc/self/stat'))('a lock whose PID now belongs to another process', () => {
  test('is stale if that process started at another time; if not, refused naming it', { timeout: 60_000 }, async () => {
    const server = startServer(dataDir);
    try {
      const answer = await server.lockAt(0);
      expect(answer.won).toBe(true);
      const recorded = JSON.parse(readFileSync(lockFile, 'utf8'));
      expect(recorded).toMatchObject({ pid: answer.pid, hostname: hostname(), startTime: expect.any(Number) });

      // The server's own lock, and its PID written bare (older versions), are refused naming its command.
      const refusal = `is open in process ${answer.pid} (a running server?): ${process.execPath} --import tsx`;
      expect(() => lockDataDir(dataDir)).toThrow(refusal);
      writeFileSync(lockFile, String(answer.pid));
      expect(() => lockDataDir(dataDir)).toThrow(refusal);

      // The same PID, recorded by a process that started earlier: the PID was reused.
      writeFileSync(lockFile, JSON.stringify({ ...recorded, startTime: recorded.startTime - 1 }));
      const lock = lockDataDir(dataDir);
      expect(JSON.parse(readFileSync(lockFile, 'utf8')).pid).toBe(process.pid);
      lock.release();

      // A lock from before the machine restarted, whatever its PID.
      writeFileSync(lockFile, JSON.stringify({ ...recorded, bootId: 'an-earlier-boot' }));
      lockDataDir(dataDir).release();
    } finally {
      await server.stop();
    }
  });
});
