/**
 * Several statements in one round trip on a node-postgres connection: the extended protocol's
 * messages for each (parse when needed, bind, describe, execute), then one Sync, in one socket
 * write. Postgres runs them in order and, after an error, skips the rest up to the Sync, so a
 * statement that raises stops every one after it. node-postgres runs one statement per round trip;
 * this is a "submittable" it hands the connection to, and reports to until the one ReadyForQuery.
 *
 * Used by coalesced-begin.ts to send a request's held `commit`/`begin`, its admission and its
 * first read together (one round trip where it took two).
 */

/** What a statement's rows are read into: node-postgres' `Result` (its type parsers, row modes). */
export interface ResultLike {
  rows: unknown[];
  addFields(fields: unknown[]): void;
  parseRow(row: unknown[]): unknown;
  addRow(row: unknown): void;
  addCommandComplete(message: unknown): void;
}

/** The parts of node-postgres this needs, given by the driver's module (client.ts). */
export interface Pipelining {
  Result: new (rowMode: string | undefined, types: unknown) => ResultLike;
  /** node-postgres' mapping of a JavaScript value to a parameter (`utils.prepareValue`). */
  prepareValue: (value: unknown) => unknown;
}

export interface PipelinedStatement {
  text: string;
  values?: readonly unknown[];
  /** A prepared statement's name: parsed under it unless the connection has it already. */
  name?: string;
  rowMode?: string;
  types?: unknown;
}

/** node-postgres' connection, as far as this uses it. */
interface Connection {
  stream: { cork?: () => void; uncork?: () => void };
  parsedStatements: Record<string, string>;
  parse(message: { text: string; name?: string; types?: unknown }): void;
  bind(message: { statement?: string; values?: unknown[] }): void;
  describe(message: { type: 'P'; name: string }): void;
  execute(message: object): void;
  sync(): void;
  on(event: 'parseComplete', listener: () => void): void;
  removeListener(event: 'parseComplete', listener: () => void): void;
}

type Outcome = { results: ResultLike[]; error: null } | { results: ResultLike[]; error: Error; failedAt: number };

/**
 * The statements, sent as one message train; `done` is told once, at the ReadyForQuery or the
 * error: every
 * statement's result, or the error and the index of the statement it stopped at (the ones before
 * it completed, the ones after it never ran).
 */
export class Pipeline {
  private readonly results: ResultLike[];
  private completed = 0;
  private error: Error | null = null;
  private finished = false;
  /** The statements parsed here, in order: each one's name, if it has one. */
  private readonly parses: ({ name: string; text: string } | null)[] = [];
  private parsesDone = 0;
  private connection: Connection | null = null;
  private readonly onParseComplete = () => {
    this.parsesDone++;
  };

  constructor(
    private readonly statements: PipelinedStatement[],
    private readonly pipelining: Pipelining,
    clientTypes: unknown,
    private readonly done: (outcome: Outcome) => void,
  ) {
    this.results = statements.map((s) => new pipelining.Result(s.rowMode, s.types ?? clientTypes));
  }

  /** Called by node-postgres when the connection is this pipeline's: writes every message at once. */
  submit(connection: Connection): Error | null {
    // Values are mapped before anything is written: a value that cannot be sent fails the whole
    // pipeline with nothing on the wire.
    let values: unknown[][];
    try {
      values = this.statements.map((s) => (s.values ?? []).map((v) => this.pipelining.prepareValue(v)));
    } catch (error) {
      return error as Error;
    }
    this.connection = connection;
    connection.on('parseComplete', this.onParseComplete);
    connection.stream.cork?.();
    try {
      this.statements.forEach((statement, i) => {
        const prepared =
          statement.name !== undefined &&
          (connection.parsedStatements[statement.name] === statement.text || this.parses.some((p) => p !== null && p.name === statement.name && p.text === statement.text));
        if (!prepared) {
          connection.parse({ text: statement.text, name: statement.name, types: statement.types });
          this.parses.push(statement.name === undefined ? null : { name: statement.name, text: statement.text });
        }
        connection.bind({ statement: prepared || statement.name !== undefined ? statement.name : '', values: values[i]! });
        connection.describe({ type: 'P', name: '' });
        connection.execute({});
      });
      connection.sync();
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  handleRowDescription(message: { fields: unknown[] }): void {
    this.results[this.completed]?.addFields(message.fields);
  }

  handleDataRow(message: { fields: unknown[] }): void {
    const result = this.results[this.completed];
    result?.addRow(result.parseRow(message.fields));
  }

  handleCommandComplete(message: unknown): void {
    this.results[this.completed]?.addCommandComplete(message);
    this.completed++;
  }

  handleEmptyQuery(): void {
    this.completed++;
  }

  handleError(error: Error): void {
    // node-postgres is done with a statement at its error (it no longer reports the ReadyForQuery
    // that follows to it); every message before the error has been seen.
    this.error = error;
    this.finish();
  }

  handleReadyForQuery(): void {
    this.finish();
  }

  handlePortalSuspended(): void {}

  handleCopyInResponse(connection: { sendCopyFail(message: string): void }): void {
    connection.sendCopyFail('COPY is not supported in a pipeline');
  }

  handleCopyData(): void {}

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.connection) {
      this.connection.removeListener('parseComplete', this.onParseComplete);
      // A named statement exists on the connection only if Postgres got as far as its parse: the
      // parses are confirmed in order, so those are the first `parsesDone`.
      for (const named of this.parses.slice(0, this.parsesDone)) {
        if (named) this.connection.parsedStatements[named.name] = named.text;
      }
    }
    this.done(this.error ? { results: this.results, error: this.error, failedAt: this.completed } : { results: this.results, error: null });
  }
}
