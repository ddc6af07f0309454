/** Human lines on stdout, or with --json only the final machine-readable object. */
export interface Output {
  line(text: string): void;
  result(value: unknown): void;
}

export function createOutput(json: boolean): Output {
  return {
    line: (text) => {
      if (json) process.stderr.write(`${text}\n`);
      else process.stdout.write(`${text}\n`);
    },
    result: (value) => {
      if (json) process.stdout.write(`${JSON.stringify(value)}\n`);
    },
  };
}
