/**
 * `guanxi import <file.csv|file.jsonl> --tenant <id> [--batch 1000] [--errors <file>] [--json]`
 *
 * Streams the file (it is never read whole: memory stays flat whatever its size), turns each
 * record into an import row, and applies the rows in batches with core `importParties`, one
 * transaction per batch. Rows it refuses — while parsing or in core — are written as JSON lines
 * to `--errors <file>` or to stderr; a progress line runs on stderr.
 *
 * Formats (chosen by the file's extension):
 * - CSV (.csv): RFC 4180 — comma-separated, fields in double quotes may hold commas, newlines and
 *   doubled quotes (""); CRLF or LF line ends; a UTF-8 BOM is skipped. The header row names the
 *   fields: kind, displayName, email, phone, company, externalId, tags, decisionStyle, birthday,
 *   notes, ownerId, archived (case, "_", "-" and spaces are ignored, so display_name works).
 *   An unknown column stops the import before anything is written (a typo would otherwise drop
 *   a whole column silently). Tags are separated by ";" or "|". `archived` is true/false.
 *   An empty cell is absent: it leaves the stored value as it is (a spreadsheet's blank is not a
 *   decision to erase); to clear a value use JSONL null or the API.
 * - JSON lines (.jsonl, .ndjson): one object per line with the same field names; an absent key
 *   leaves the stored value, null clears it (as in the API). `tags` is an array (or a string
 *   separated like CSV's). Unknown keys make the row an error.
 *
 * Duplicates: within one batch the later row with an external id is refused (api: CONFLICT);
 * across batches the later row simply updates the party again (remembering every id of the
 * file would make memory grow with it).
 */
import { createReadStream, createWriteStream, statSync, type WriteStream } from 'node:fs';
import { extname } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { eq } from 'drizzle-orm';
import { isUuid, useTransaction, withActor, withTenant, type Database, type UserErrorDetail } from '@guanxi/core';
import { tenants } from '@guanxi/core/access';
import { importParties, maxImportRows, type ImportPartyRow } from '@guanxi/core/network';
import { createProgress, type Progress, type ProgressStream } from './progress';

export interface RunImportOptions {
  /** The CSV or JSON-lines file. */
  file: string;
  tenantId: string;
  /** Rows per transaction, 1–1000 (default 1000, the most one importParties call takes). */
  batchSize?: number;
  /** Where refused rows go, as JSON lines; default: `stderr`. */
  errorsFile?: string | null;
  /** Progress and (without `errorsFile`) refused rows; default process.stderr. */
  stderr?: ProgressStream;
  /** Show progress: redrawn in place on a terminal, a line every 10 s elsewhere. Default true. */
  progress?: boolean;
}

export interface ImportSummary {
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  /** Data rows read (header and blank lines excluded). */
  rows: number;
  seconds: number;
}

/** One refused row, as written to the errors output (one JSON object per line). */
export interface ImportErrorLine {
  /** Data row number in the file, from 1 (the header is not a row). */
  row: number;
  /** Line of the file where the row starts, from 1 (a CSV row may span several lines). */
  line: number;
  externalId: string | null;
  errors: UserErrorDetail[];
}

export const importFields = [
  'kind',
  'displayName',
  'email',
  'phone',
  'company',
  'externalId',
  'tags',
  'decisionStyle',
  'birthday',
  'notes',
  'ownerId',
  'archived',
] as const;
type ImportField = (typeof importFields)[number];

/** One record of the file: a row for core, or the reasons it could not become one. */
interface SourceRow {
  row: number;
  line: number;
  values?: ImportPartyRow;
  errors?: UserErrorDetail[];
  externalId?: string | null;
}

// ---------------------------------------------------------------------------------------------
// CSV

export interface CsvRecord {
  fields: string[];
  /** Line where the record starts, from 1. */
  line: number;
  /** Set when the file ends inside a quoted field. */
  error?: string;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

/**
 * An incremental RFC 4180 parser: feed it text in chunks of any size (a chunk may end anywhere,
 * even between the two quotes of a doubled quote or between CR and LF) and take the complete
 * records. Lenient where the RFC is silent: a quote inside an unquoted field is kept as text.
 */
export class CsvParser {
  private fields: string[] = [];
  private field = '';
  private inQuotes = false;
  /** Inside quotes, the previous character was a quote: a second one makes it a literal quote. */
  private quoteSeen = false;
  private skipLf = false;
  private started = false;
  private atStart = true;
  private line = 1;
  private recordLine = 1;
  private out: CsvRecord[] = [];

  push(text: string): void {
    let i = 0;
    const n = text.length;
    if (this.atStart && n > 0) {
      if (text.charCodeAt(0) === 0xfeff) i = 1;
      this.atStart = false;
    }
    while (i < n) {
      const c = text.charCodeAt(i);
      if (this.skipLf) {
        this.skipLf = false;
        if (c === LF) {
          i++;
          continue;
        }
      }
      if (this.inQuotes) {
        if (this.quoteSeen) {
          this.quoteSeen = false;
          if (c === QUOTE) {
            this.field += '"';
            i++;
            continue;
          }
          this.inQuotes = false; // that quote closed the field; c is read as unquoted below
        } else {
          const quote = text.indexOf('"', i);
          const end = quote === -1 ? n : quote;
          const run = text.slice(i, end);
          this.countLines(run);
          this.field += run;
          if (quote !== -1) this.quoteSeen = true;
          i = end + (quote === -1 ? 0 : 1);
          continue;
        }
      }
      if (c === COMMA) {
        this.fields.push(this.field);
        this.field = '';
        this.started = true;
        i++;
      } else if (c === LF || c === CR) {
        this.endRecord();
        this.line++;
        this.recordLine = this.line;
        this.skipLf = c === CR;
        i++;
      } else if (c === QUOTE && this.field === '') {
        this.inQuotes = true;
        this.started = true;
        i++;
      } else {
        let j = i + 1;
        while (j < n) {
          const d = text.charCodeAt(j);
          if (d === COMMA || d === LF || d === CR || d === QUOTE) break;
          j++;
        }
        this.field += text.slice(i, j);
        this.started = true;
        i = j;
      }
    }
  }

  /** The end of the input: the last record even without a final newline. */
  end(): void {
    if (this.inQuotes && !this.quoteSeen) {
      this.fields.push(this.field);
      this.out.push({ fields: this.fields, line: this.recordLine, error: 'The file ends inside a quoted field' });
      this.fields = [];
      this.field = '';
      this.inQuotes = false;
      return;
    }
    this.inQuotes = false;
    this.quoteSeen = false;
    this.endRecord();
  }

  /** The records completed so far (each returned once). */
  take(): CsvRecord[] {
    const records = this.out;
    this.out = [];
    return records;
  }

  private endRecord(): void {
    this.fields.push(this.field);
    // A blank line is no record (a trailing newline, a spacer line in a hand-made file).
    if (this.started) this.out.push({ fields: this.fields, line: this.recordLine });
    this.fields = [];
    this.field = '';
    this.started = false;
  }

  private countLines(text: string): void {
    for (let k = text.indexOf('\n'); k !== -1; k = text.indexOf('\n', k + 1)) this.line++;
  }
}

/** The canonical field a header cell names, ignoring case, "_", "-" and spaces. */
const headerNames = new Map<string, ImportField>(importFields.map((field) => [field.toLowerCase(), field]));
function headerField(cell: string): ImportField | undefined {
  return headerNames.get(cell.replace(/[\s_-]/g, '').toLowerCase());
}

function columnsOf(header: CsvRecord): ImportField[] {
  const columns: ImportField[] = [];
  for (const cell of header.fields) {
    const field = headerField(cell);
    if (!field) {
      throw new Error(`Unknown column "${cell}" in the header (line ${header.line}); the columns are ${importFields.join(', ')}`);
    }
    if (columns.includes(field)) throw new Error(`Column "${field}" appears twice in the header`);
    columns.push(field);
  }
  if (!columns.includes('externalId')) {
    throw new Error('The header has no externalId column: every imported row is matched by its external id');
  }
  return columns;
}

function splitTags(text: string): string[] {
  return text
    .split(/[;|]/)
    .map((tag) => tag.trim())
    .filter((tag) => tag !== '');
}

const booleans: Record<string, boolean> = { true: true, false: false, yes: true, no: false, '1': true, '0': false };

function csvRow(columns: ImportField[], record: CsvRecord, row: number): SourceRow {
  const source: SourceRow = { row, line: record.line };
  const cell = (field: ImportField) => record.fields[columns.indexOf(field)]?.trim();
  source.externalId = cell('externalId') || null;
  if (record.error) {
    source.errors = [{ code: 'VALIDATION', field: null, message: record.error }];
    return source;
  }
  if (record.fields.length !== columns.length) {
    source.errors = [
      {
        code: 'VALIDATION',
        field: null,
        message: `The row has ${record.fields.length} fields; the header has ${columns.length}`,
      },
    ];
    return source;
  }
  const values: Record<string, unknown> = {};
  const errors: UserErrorDetail[] = [];
  columns.forEach((field, k) => {
    const text = record.fields[k]!;
    // An empty cell is absent: it leaves the stored value alone (see the module comment).
    if (text.trim() === '') return;
    if (field === 'tags') values.tags = splitTags(text);
    else if (field === 'archived') {
      const flag = booleans[text.trim().toLowerCase()];
      if (flag === undefined) errors.push({ code: 'VALIDATION', field: ['archived'], message: 'Archived is true or false' });
      else values.archived = flag;
    } else values[field] = text;
  });
  if (errors.length > 0) source.errors = errors;
  else source.values = values as ImportPartyRow;
  return source;
}

// ---------------------------------------------------------------------------------------------
// JSON lines

const knownKeys = new Set<string>(importFields);

function jsonRow(text: string, line: number, row: number): SourceRow {
  const source: SourceRow = { row, line };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    source.errors = [{ code: 'VALIDATION', field: null, message: `Not valid JSON: ${(error as Error).message}` }];
    return source;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    source.errors = [{ code: 'VALIDATION', field: null, message: 'Each line must be a JSON object' }];
    return source;
  }
  const object = value as Record<string, unknown>;
  source.externalId = typeof object.externalId === 'string' ? object.externalId.trim() || null : null;
  const unknown = Object.keys(object).filter((key) => !knownKeys.has(key));
  if (unknown.length > 0) {
    source.errors = unknown.map((key) => ({
      code: 'VALIDATION' as const,
      field: [key],
      message: `Unknown field "${key}"; the fields are ${importFields.join(', ')}`,
    }));
    return source;
  }
  // Core validates every value's type; only the CSV-style tag string is unfolded here.
  source.values = (typeof object.tags === 'string' ? { ...object, tags: splitTags(object.tags) } : object) as ImportPartyRow;
  return source;
}

// ---------------------------------------------------------------------------------------------
// Reading

type Format = 'csv' | 'jsonl';

function formatOf(file: string): Format {
  const extension = extname(file).toLowerCase();
  if (extension === '.csv') return 'csv';
  if (extension === '.jsonl' || extension === '.ndjson') return 'jsonl';
  throw new Error(`Cannot tell the format of "${file}": use a .csv or .jsonl file`);
}

/**
 * How far the reading is: `rows` whole rows were found in the first `bytes` bytes. Both move
 * together at chunk boundaries, so rows per byte — and from it the rows in the file — is a fair
 * estimate even while a chunk's rows are still being imported.
 */
interface ReadPosition {
  bytes: number;
  rows: number;
}

/**
 * The file's rows, one at a time. `for await` over the read stream pulls a chunk (64 KiB) only
 * when the previous one is used up, so a slow database holds the reading back (flat memory).
 */
async function* readRows(file: string, format: Format, position: ReadPosition): AsyncGenerator<SourceRow> {
  const decoder = new StringDecoder('utf8');
  let row = 0;
  if (format === 'csv') {
    const parser = new CsvParser();
    let columns: ImportField[] | null = null;
    const convert = function* (records: CsvRecord[]) {
      for (const record of records) {
        if (!columns) {
          columns = columnsOf(record);
          continue;
        }
        yield csvRow(columns, record, ++row);
      }
    };
    for await (const chunk of createReadStream(file)) {
      position.rows = row;
      position.bytes += (chunk as Buffer).length;
      parser.push(decoder.write(chunk as Buffer));
      yield* convert(parser.take());
    }
    parser.push(decoder.end());
    parser.end();
    yield* convert(parser.take());
    if (!columns) throw new Error(`${file} is empty: a CSV import needs a header row`);
    return;
  }
  let pending = '';
  let line = 0;
  const lines = function* (text: string, last: boolean) {
    const parts = (pending + text).split('\n');
    pending = last ? '' : parts.pop()!;
    for (const part of parts) {
      line++;
      const content = part.endsWith('\r') ? part.slice(0, -1) : part;
      if (content.trim() === '') continue;
      yield jsonRow(content, line, ++row);
    }
  };
  for await (const chunk of createReadStream(file)) {
    position.rows = row;
    position.bytes += (chunk as Buffer).length;
    yield* lines(decoder.write(chunk as Buffer), false);
  }
  yield* lines(decoder.end(), true);
}

// ---------------------------------------------------------------------------------------------
// Running

/** A line for people: "Imported 100000 rows in 12.3 s: 99990 created, …". */
export function describeImport(summary: ImportSummary): string {
  return (
    `Imported ${summary.rows} rows in ${summary.seconds.toFixed(1)} s: ${summary.created} created, ` +
    `${summary.updated} updated, ${summary.unchanged} unchanged, ${summary.failed} failed`
  );
}

/**
 * Imports `file` into the tenant, batch by batch, and returns the counts. Each batch commits on
 * its own: if the import stops (a crash, a lost connection), the batches before it stay, and
 * running the same file again is safe — the upsert by external id makes them UNCHANGED.
 */
export async function runImport(db: Database, options: RunImportOptions): Promise<ImportSummary> {
  const started = performance.now();
  const batchSize = options.batchSize ?? maxImportRows;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > maxImportRows) {
    throw new Error(`--batch must be a whole number from 1 to ${maxImportRows}`);
  }
  if (!isUuid(options.tenantId)) throw new Error('--tenant <tenant id> must be a tenant id (a UUID)');
  const format = formatOf(options.file);
  const size = statSync(options.file).size;
  const actor = { kind: 'SYSTEM' as const, tenantId: options.tenantId, name: 'import' };
  const inTenant = <T>(fn: () => Promise<T>) => withActor(actor, () => withTenant(db, options.tenantId, fn));
  // Checked first: otherwise the first batch would fail on a foreign key, mid-import.
  const [tenant] = await inTenant(() => useTransaction().select({ id: tenants.id }).from(tenants).where(eq(tenants.id, options.tenantId)));
  if (!tenant) throw new Error(`No tenant ${options.tenantId}`);

  const stderr = options.stderr ?? process.stderr;
  const progress: Progress | null =
    (options.progress ?? true) ? createProgress({ label: 'import', unit: 'rows', stream: stderr }) : null;
  let errorsFile: WriteStream | null = null;
  if (options.errorsFile) {
    errorsFile = createWriteStream(options.errorsFile);
    await new Promise<void>((resolve, reject) => errorsFile!.once('open', () => resolve()).once('error', reject));
  }
  const reportError = async (entry: ImportErrorLine) => {
    const text = JSON.stringify(entry);
    if (errorsFile) {
      // Respect the file's backpressure: a file of refused rows must not pile up in memory.
      if (!errorsFile.write(`${text}\n`)) await new Promise<void>((resolve) => errorsFile!.once('drain', () => resolve()));
    } else if (progress) progress.log(text);
    else stderr.write(`${text}\n`);
  };

  const summary = { created: 0, updated: 0, unchanged: 0, failed: 0, rows: 0 };
  const read: ReadPosition = { bytes: 0, rows: 0 };
  // Rows in the file, estimated from the rows per byte read so far.
  const estimate = () => (read.rows > 0 && read.bytes > 0 ? Math.round((read.rows / read.bytes) * size) : null);
  let batch: SourceRow[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    let result;
    try {
      result = await inTenant(() => importParties(rows.map((r) => r.values!)));
    } catch (error) {
      throw new Error(
        `The import stopped at the batch starting on line ${rows[0]!.line}: ${(error as Error).message}. ` +
          'Earlier batches are saved; run the same file again to finish (imported rows come back UNCHANGED).',
        { cause: error },
      );
    }
    summary.created += result.created;
    summary.updated += result.updated;
    summary.unchanged += result.unchanged;
    summary.failed += result.failed;
    for (const outcome of result.results) {
      if (outcome.status !== 'ERROR') continue;
      const source = rows[outcome.index]!;
      await reportError({ row: source.row, line: source.line, externalId: outcome.externalId, errors: outcome.userErrors });
    }
  };

  try {
    for await (const source of readRows(options.file, format, read)) {
      summary.rows++;
      if (source.errors) {
        summary.failed++;
        await reportError({ row: source.row, line: source.line, externalId: source.externalId ?? null, errors: source.errors });
      } else {
        batch.push(source);
        if (batch.length >= batchSize) await flush();
      }
      if (progress) {
        const total = estimate();
        progress.update({
          done: summary.rows,
          total: total === null ? null : Math.max(total, summary.rows),
          estimated: true,
          // Never 100% before the end: the last rows may still be waiting in the batch.
          fraction: total ? Math.min(0.99, summary.rows / total) : null,
        });
      }
    }
    await flush();
    progress?.update({ done: summary.rows, total: summary.rows, estimated: false, fraction: 1 });
  } finally {
    progress?.finish();
    if (errorsFile) await new Promise<void>((resolve) => errorsFile!.end(() => resolve()));
  }
  return { ...summary, seconds: Math.round(performance.now() - started) / 1000 };
}
