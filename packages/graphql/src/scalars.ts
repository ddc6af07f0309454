import { GraphQLError, Kind, type ValueNode } from 'graphql';
import { builder } from './builder';

function invalid(message: string): never {
  throw new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

/**
 * A literal in the document as the plain value a variable would carry, so a scalar reads both the
 * same way (and its `parseLiteral` takes the node alone, the form the JIT executor compiles:
 * graphql-js's default one also takes the variables, which the JIT warns about on every compile).
 */
function literal(node: ValueNode): unknown {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return node.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.LIST:
      return node.values.map(literal);
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((f) => [f.name.value, literal(f.value)]));
    default:
      return null;
  }
}

function parseDateTime(value: unknown): Date {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T.+(Z|[+-]\d{2}:?\d{2})$/.test(value)) {
    invalid('DateTime must be an ISO 8601 string with a time zone');
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) invalid('DateTime is not a real instant');
  // JavaScript has a year 0 (1 BC); Postgres refuses it, so it is out of range, not a crash.
  if (date.getUTCFullYear() < 1) invalid('DateTime must be in year 1 or later');
  return date;
}

builder.scalarType('DateTime', {
  description: 'An instant, ISO 8601 with a time zone, e.g. 2026-11-23T08:30:00Z.',
  serialize: (value) => (value as Date).toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (node) => parseDateTime(literal(node)),
});

function parseDate(value: unknown): string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    invalid('Date must be written YYYY-MM-DD');
  }
  const date = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value) {
    invalid('Date is not a calendar date');
  }
  if (date.getUTCFullYear() < 1) invalid('Date must be in year 1 or later');
  return value;
}

builder.scalarType('Date', {
  description: 'A calendar date, YYYY-MM-DD.',
  serialize: (value) => value,
  parseValue: parseDate,
  parseLiteral: (node) => parseDate(literal(node)),
});

function parseDecimal(value: unknown): string {
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^-?\d{1,15}(\.\d{1,10})?$/.test(text)) {
    invalid('Decimal must be a decimal number written as a string, e.g. "199.90"');
  }
  return text;
}

builder.scalarType('Decimal', {
  description: 'An exact decimal number written as a string, e.g. "199.90" (money is never a float).',
  serialize: (value) => String(value),
  parseValue: parseDecimal,
  parseLiteral: (node) => parseDecimal(literal(node)),
});

builder.scalarType('JSON', {
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (node) => literal(node),
});
