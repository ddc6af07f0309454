import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** A `guanxi serve` (or `pnpm dev`) running as a child process, as a user starts it. */
export interface ServeProcess {
  url: string;
  child: ChildProcess;
  /** Everything it printed (stdout and stderr, the last 200 kB). */
  output(): string;
  /** Whether it is still running. */
  alive(): boolean;
  /** SIGTERM to its process group, SIGKILL after 10 s. */
  stop(): Promise<void>;
}

/**
 * Starts `command args` from the repository root in its own process group (so stopping it also
 * ends the node process tsx starts) and resolves once it prints `guanxi is up: <url>` and what
 * `ready` waits for. Should the test process die first, the server goes with it.
 */
export function startServeProcess(options: {
  command: string;
  args: string[];
  env: Record<string, string>;
  timeoutMs: number;
  /** Besides the URL, what the output must show before the server counts as started. */
  ready?: (output: string) => boolean;
}): Promise<ServeProcess> {
  const child = spawn(options.command, options.args, {
    cwd: root,
    env: { ...process.env, ...options.env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const alive = () => child.exitCode === null && child.signalCode === null;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // already gone
    }
  };
  process.once('exit', () => alive() && signal('SIGKILL'));
  const stop = async () => {
    if (!child.pid || !alive()) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal('SIGKILL');
      reject(new Error(`the server did not start in ${options.timeoutMs / 1000} s:\n${output}`));
    }, options.timeoutMs);
    let started = false;
    const read = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-200_000);
      const up = /guanxi is up: (http:\/\/\S+)/.exec(output);
      if (!started && up && (options.ready?.(output) ?? true)) {
        started = true;
        clearTimeout(timer);
        resolve({ url: up[1]!, child, output: () => output, alive, stop });
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', (code, signalName) => {
      clearTimeout(timer);
      if (!started) reject(new Error(`the server exited (${code ?? signalName}) before listening:\n${output}`));
    });
  });
}
