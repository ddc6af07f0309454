/**
 * A progress line on stderr for long CLI commands (import, score). Stdout stays clean for the
 * `--json` result line (api: the last stdout line is the machine-readable object).
 *
 * On a terminal the line is redrawn in place (at most every `intervalMs`); elsewhere (CI logs,
 * a redirected stderr) a plain line is written every `lineEveryMs`, so logs stay readable.
 */

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** What is being done, e.g. "import". */
  label: string;
  /** What is counted, e.g. "rows". */
  unit?: string;
  stream?: ProgressStream;
  /** Draw in place; default: the stream is a terminal. */
  interactive?: boolean;
  intervalMs?: number;
  lineEveryMs?: number;
  /** The clock, for tests. */
  now?: () => number;
}

export interface ProgressState {
  /** Units done so far. */
  done: number;
  /** Units in all, when known (exactly, or estimated: see `estimated`). */
  total?: number | null;
  /** The total is an estimate (e.g. from bytes read): shown as "~total". */
  estimated?: boolean;
  /** Share of the work done, 0–1, when it is known better than done/total (e.g. bytes read). */
  fraction?: number | null;
}

export interface Progress {
  update(state: ProgressState): void;
  /** Writes a whole line (e.g. a row error) without tearing the progress line. */
  log(line: string): void;
  /** Clears the progress line; `line` is written instead when given. */
  finish(line?: string): void;
}

const spinner = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** The text of one progress line (no control characters), e.g. for tests and log lines. */
export function progressText(label: string, unit: string, state: ProgressState, elapsedMs: number, frame = 0): string {
  const rate = elapsedMs > 0 ? (state.done * 1000) / elapsedMs : 0;
  const fraction =
    state.fraction ?? (state.total && state.total > 0 ? Math.min(1, state.done / state.total) : null);
  const parts: string[] = [label];
  if (fraction !== null && fraction !== undefined) {
    const width = 20;
    const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
    parts.push(`[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`, `${Math.floor(fraction * 100)}%`);
  } else {
    parts.push(spinner[frame % spinner.length]!);
  }
  const total = state.total ? `/${state.estimated ? '~' : ''}${number.format(state.total)}` : '';
  parts.push(`${number.format(state.done)}${total} ${unit}`, `${number.format(rate)} ${unit}/s`);
  if (fraction && fraction > 0 && fraction < 1) parts.push(`ETA ${duration(((elapsedMs / fraction) * (1 - fraction)) / 1000)}`);
  return parts.join(' ');
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const unit = options.unit ?? 'items';
  const interactive = options.interactive ?? Boolean(stream.isTTY);
  const now = options.now ?? (() => performance.now());
  const intervalMs = options.intervalMs ?? 100;
  const lineEveryMs = options.lineEveryMs ?? 10_000;
  const started = now();
  let last: ProgressState = { done: 0 };
  let drawnAt = -Infinity;
  let shown = false;
  let frame = 0;

  const text = () => {
    const line = progressText(options.label, unit, last, now() - started, frame++);
    const columns = stream.columns;
    return columns && line.length >= columns ? line.slice(0, columns - 1) : line;
  };
  const clear = () => {
    if (shown) stream.write('\r\x1b[K');
    shown = false;
  };
  const draw = () => {
    drawnAt = now();
    if (interactive) {
      stream.write(`\r\x1b[K${text()}`);
      shown = true;
    } else {
      stream.write(`${text()}\n`);
    }
  };

  return {
    update(state) {
      last = state;
      if (now() - drawnAt >= (interactive ? intervalMs : lineEveryMs)) draw();
    },
    log(line) {
      clear();
      stream.write(`${line}\n`);
      // On a terminal the bar comes back at the next update (not after each line of a burst of
      // row errors); a log keeps its own rhythm.
      if (interactive) drawnAt = -Infinity;
    },
    finish(line) {
      clear();
      if (line !== undefined) stream.write(`${line}\n`);
    },
  };
}
