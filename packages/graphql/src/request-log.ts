import { randomUUID } from 'node:crypto';
import { writeSync } from 'node:fs';
import { getOperationAST, type GraphQLError } from 'graphql';
import type { Plugin, YogaLogger } from 'graphql-yoga';
import type { Caller, RequestContext } from './context';

/** Where log lines go: one JSON object per line (CloudWatch and `guanxi serve` alike). */
export type LogSink = (line: string) => void;

export const stdoutSink: LogSink = (line) => void process.stdout.write(`${line}\n`);

/**
 * For a long-running server (`guanxi serve`): the lines of one turn of the event loop written
 * together, one write for all the requests that finished in it. Each write to stdout is a system
 * call (measured under the bench's load: 55 µs a line, 4 % of the server's CPU). What is still
 * buffered is written synchronously when the process exits. Not for Lambda, which may freeze the
 * process before the next turn: there every line goes out at once (`stdoutSink`).
 */
export function batchedSink(write: ((text: string) => void) | null = null): LogSink {
  let pending: string[] = [];
  const flush = (out: (text: string) => void = write ?? ((text) => void process.stdout.write(text))) => {
    if (pending.length === 0) return;
    const text = `${pending.join('\n')}\n`;
    pending = [];
    out(text);
  };
  // process.stdout.write may not finish once the process is exiting (a pipe); writeSync does.
  process.once('exit', () => flush(write ?? ((text) => void writeSync(1, text))));
  return (line) => {
    if (pending.length === 0) setImmediate(() => flush());
    pending.push(line);
  };
}

/** What the operator reads about one API request. */
export interface RequestLine {
  level: 'info' | 'warn';
  msg: 'request';
  requestId: string;
  method: string;
  path: string;
  operation: string | null;
  tenantId: string | null;
  caller: Caller['kind'] | null;
  status: number;
  ms: number;
  errors: string[];
}

interface RequestRecord {
  startedAt: number;
  requestId: string;
  operation: string | null;
  caller: Caller | null;
  errors: string[];
}

// A caller's own id is kept when it is plain enough to put in a log line and a header.
const requestIdPattern = /^[\w.:-]{1,100}$/;

function codesOf(errors: readonly GraphQLError[] | undefined): string[] {
  return (errors ?? []).map((error) => String(error.extensions?.code ?? 'INTERNAL_SERVER_ERROR'));
}

/** Yoga's own logger, as JSON lines on the same sink (debug only when asked for). */
export function jsonLogger(sink: LogSink, debug = false): YogaLogger {
  const write = (level: string) => (...args: unknown[]) => {
    const [first, ...rest] = args;
    const message = first instanceof Error ? first.message : typeof first === 'string' ? first : JSON.stringify(first);
    const details = rest.map((arg) => (arg instanceof Error ? { error: arg.message, stack: arg.stack } : arg));
    const stack = first instanceof Error ? { stack: first.stack } : {};
    sink(JSON.stringify({ level, msg: message, ...stack, ...(details.length ? { details } : {}) }));
  };
  return { debug: debug ? write('debug') : () => {}, info: write('info'), warn: write('warn'), error: write('error') };
}

/**
 * One JSON line per GraphQL request (not for /health and /ready) when there is a sink, and always
 * the request's id in the
 * `x-request-id` response header: the caller's own id when it sent a usable one, else a new one.
 * The same id is in the audit log (through the context), so a caller's report, the request line
 * and the audit rows meet on it.
 */
export function createRequestLog(options: { sink: LogSink | null; graphqlEndpoint: string }) {
  const records = new WeakMap<Request, RequestRecord>();

  function recordOf(request: Request): RequestRecord {
    let record = records.get(request);
    if (!record) {
      const given = request.headers.get('x-request-id');
      record = {
        startedAt: performance.now(),
        requestId: given && requestIdPattern.test(given) ? given : randomUUID(),
        operation: null,
        caller: null,
        errors: [],
      };
      records.set(request, record);
    }
    return record;
  }

  const plugin: Plugin<RequestContext> = {
    onRequest({ request }) {
      recordOf(request);
    },
    onParams({ request, params }) {
      recordOf(request).operation = params.operationName ?? null;
    },
    // Parsed before validation and before the credential is checked, so refusals have it too.
    onParse({ context, params }) {
      const request = (context as { request?: Request }).request;
      if (!request) return;
      return ({ result }) => {
        if (!result || result instanceof Error) return;
        const record = recordOf(request);
        const operation = getOperationAST(result, record.operation ?? undefined);
        record.operation = operation?.name?.value ?? record.operation ?? (operation ? `(anonymous ${operation.operation})` : null);
      };
    },
    onResultProcess({ request, result }) {
      const record = recordOf(request);
      for (const one of Array.isArray(result) ? result : [result]) {
        if (one && typeof one === 'object' && 'errors' in one) record.errors.push(...codesOf(one.errors as GraphQLError[]));
      }
    },
    onResponse({ request, response }) {
      const url = new URL(request.url);
      const record = recordOf(request);
      response.headers.set('x-request-id', record.requestId);
      if (!options.sink || url.pathname !== options.graphqlEndpoint) return;
      const line: RequestLine = {
        level: response.status >= 500 ? 'warn' : 'info',
        msg: 'request',
        requestId: record.requestId,
        method: request.method,
        path: url.pathname,
        operation: record.operation,
        tenantId: record.caller && record.caller.kind !== 'OPERATOR' ? record.caller.tenantId : null,
        caller: record.caller?.kind ?? null,
        status: response.status,
        ms: Math.round((performance.now() - record.startedAt) * 10) / 10,
        errors: record.errors,
      };
      options.sink(JSON.stringify(line));
    },
  };

  return {
    plugin,
    /** The request's id (the context and the audit log use it). */
    requestIdOf: (request: Request) => recordOf(request).requestId,
    /** Who the request turned out to be, once its credential is checked. */
    noteCaller: (request: Request, caller: Caller) => void (recordOf(request).caller = caller),
  };
}
