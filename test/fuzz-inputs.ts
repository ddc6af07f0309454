import fc from 'fast-check';

/**
 * Hostile and valid-looking inputs for every mutation, derived from the schema the server itself
 * reports (introspection): a mutation or input field added tomorrow is fuzzed without a change here.
 */

export interface TypeRef {
  kind: 'SCALAR' | 'OBJECT' | 'INTERFACE' | 'UNION' | 'ENUM' | 'INPUT_OBJECT' | 'LIST' | 'NON_NULL';
  name: string | null;
  ofType: TypeRef | null;
}

interface FieldInfo {
  name: string;
  type: TypeRef;
  args?: { name: string; type: TypeRef }[];
}

interface NamedType {
  kind: TypeRef['kind'];
  name: string;
  fields: FieldInfo[] | null;
  inputFields: FieldInfo[] | null;
  enumValues: { name: string }[] | null;
}

export interface SchemaInfo {
  mutations: FieldInfo[];
  types: Map<string, NamedType>;
}

const typeRef = 'kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } }';

export const introspectionQuery = `{
  __schema {
    mutationType { fields { name args { name type { ${typeRef} } } type { ${typeRef} } } }
    types {
      kind name
      fields { name args { name type { ${typeRef} } } type { ${typeRef} } }
      inputFields { name type { ${typeRef} } }
      enumValues { name }
    }
  }
}`;

export function readSchema(data: any): SchemaInfo {
  const types = new Map<string, NamedType>();
  for (const type of data.__schema.types as NamedType[]) types.set(type.name, type);
  return { mutations: data.__schema.mutationType.fields, types };
}

export function printType(ref: TypeRef): string {
  if (ref.kind === 'NON_NULL') return `${printType(ref.ofType!)}!`;
  if (ref.kind === 'LIST') return `[${printType(ref.ofType!)}]`;
  return ref.name!;
}

export function namedType(ref: TypeRef): TypeRef {
  return ref.ofType ? namedType(ref.ofType) : ref;
}

/**
 * A payload's selection: userErrors, and every other field with its scalar fields one level down,
 * so a refused write is seen, and what an accepted one wrote is serialised (DateTime, Decimal…).
 */
export function selectionFor(schema: SchemaInfo, payload: TypeRef): string {
  const scalarFields = (type: NamedType) =>
    (type.fields ?? [])
      .filter((f) => !f.args?.some((a) => a.type.kind === 'NON_NULL'))
      .filter((f) => ['SCALAR', 'ENUM'].includes(namedType(f.type).kind))
      .map((f) => f.name);
  const type = schema.types.get(namedType(payload).name!)!;
  const parts = (type.fields ?? []).map((field) => {
    if (field.name === 'userErrors') return 'userErrors { code field message }';
    const target = schema.types.get(namedType(field.type).name!)!;
    if (target.kind === 'SCALAR' || target.kind === 'ENUM') return field.name;
    if (target.kind === 'OBJECT') return `${field.name} { __typename ${scalarFields(target).join(' ')} }`;
    return `${field.name} { __typename }`;
  });
  return parts.join(' ');
}

/** Ids the fuzz may send: the tenant's own (of every type), another tenant's, and forgeries. */
export interface IdPool {
  own: string[];
  foreign: string[];
  /** Raw (undecoded) uuids of the foreign tenant's rows, to forge ids of any type with. */
  foreignRaw: string[];
  /** Referral codes: the tenant's own and the other tenant's. */
  codes: string[];
}

const typeNames = ['Party', 'Relationship', 'Referral', 'Order', 'Interaction', 'ApiKey', 'Webhook', 'Tenant', 'ScoringRun', 'StageTransition', 'Nope'];
const globalId = (type: string, raw: string) => Buffer.from(`${type}:${raw}`).toString('base64');

const hostileStrings = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\t\n\r',
    '\u200b\u200e\u202e',
    "'; drop table parties; --",
    '%',
    '\\',
    '"',
    'null',
    'undefined',
    '../../etc/passwd',
    '<script>alert(1)</script>',
    '\ud800',
    'a\udfffb',
    '😀👨‍👩‍👧‍👦',
    '关系客户网络',
    'ﷺ',
    'İ',
    'ß'.repeat(50),
  ),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  // UTF-16 code units, lone surrogates included.
  fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 30 }).map((units) => String.fromCharCode(...units)),
  // Huge: past every length limit, within the 1 MB body limit (a larger body is a clean 413 too).
  fc.constantFrom(101, 2_001, 65_536, 200_000).chain((length) =>
    fc.constantFrom('x', '关', '😀', 'a\u0000').map((unit) => unit.repeat(Math.ceil(length / unit.length))),
  ),
);

/** Any JSON value: a wrong type wherever it lands. */
const wrongType = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant({}),
  fc.constant([]),
  fc.jsonValue({ maxDepth: 2 }),
);

const validLooking: Record<string, fc.Arbitrary<unknown>> = {
  email: fc.oneof(fc.emailAddress(), fc.constantFrom('Li.Lei+crm@Example.com', 'a@b', 'x@y.z')),
  phone: fc.oneof(
    fc.stringMatching(/^\+86 ?1[3-9]\d{9}$/),
    fc.constantFrom('+8613800138000', '13800138000', '+1 (555) 010-9999', '+999999999999999999'),
  ),
  url: fc.oneof(
    fc.webUrl(),
    fc.constantFrom('http://127.0.0.1:9/hook', 'https://example.com/hook', 'https://user:pw@example.com/', 'ftp://example.com', 'javascript:alert(1)'),
  ),
  events: fc.constantFrom('party.created', 'referral.*', '*', 'loyalty.segment_changed', 'nope.*', 'party.'),
  channel: fc.constantFrom('WECHAT', 'weibo', 'x'.repeat(51)),
  name: fc.constantFrom('Li Lei', '王芳', 'Acme 有限公司'),
  displayName: fc.constantFrom('Li Lei', '王芳', 'Acme 有限公司'),
  tags: fc.constantFrom('vip', 'shanghai', 'VIP', 'x'.repeat(41)),
  reason: fc.constantFrom('moved back by hand', 'fraud', ' '),
};

/** Values a careful client would send: they get past validation into the commands' own rules. */
const tameStrings: Record<string, fc.Arbitrary<unknown>> = {
  email: fc.constantFrom('li.lei@example.com', 'wang@example.cn', 'p0@example.com'),
  phone: fc.constantFrom('+8613800138000', '+8613912345678'),
  url: fc.constantFrom('http://127.0.0.1:9/hook', 'https://example.com/hook'),
  events: fc.constantFrom('party.created', 'referral.*', '*'),
  channel: fc.constantFrom('WECHAT', 'EVENT'),
  name: fc.constantFrom('Li Lei', '王芳'),
  displayName: fc.constantFrom('Li Lei', '王芳'),
  tags: fc.constantFrom('vip', 'shanghai'),
  reason: fc.constantFrom('moved back by hand', 'fraud'),
  // Existing external ids too: the uniqueness rules (CONFLICT) are refusals after real work.
  externalId: fc.constantFrom('ext-0', 'ext-1', 'ext-2', 'new-1', 'new-2'),
  ownerId: fc.constantFrom('user-1', 'user-2'),
};

function stringFor(field: string, tame: boolean): fc.Arbitrary<unknown> {
  if (tame) return tameStrings[field] ?? fc.stringMatching(/^[A-Za-z][A-Za-z ]{0,15}$/);
  const looking = validLooking[field] ?? fc.string({ maxLength: 40 });
  return fc.oneof({ weight: 6, arbitrary: looking }, { weight: 4, arbitrary: hostileStrings });
}

const dateOnly = (date: Date) => date.toISOString().slice(0, 10);
const recent = fc.date({ min: new Date('2024-01-01T00:00:00Z'), max: new Date(), noInvalidDate: true });

const dates = fc.oneof(
  { weight: 5, arbitrary: recent.map(dateOnly) },
  { weight: 2, arbitrary: fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z'), noInvalidDate: true }).map(dateOnly) },
  {
    weight: 3,
    arbitrary: fc.constantFrom('0000-01-01', '0001-01-01', '1900-02-29', '2023-02-30', '2023-13-01', '9999-12-31', '2999-01-01', '+275760-09-13', '2024-1-1', '20240101', 'yesterday'),
  },
);

const dateTimes = fc.oneof(
  { weight: 5, arbitrary: recent.map((d) => d.toISOString()) },
  {
    weight: 2,
    arbitrary: fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }).map((d) => d.toISOString()),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '0001-01-01T00:00:00Z',
      '9999-12-31T23:59:59.999+14:00',
      '2999-01-01T00:00:00Z',
      '1970-01-01T00:00:00-12:00',
      '2024-02-30T00:00:00Z',
      '2024-01-01T25:61:61Z',
      '2024-01-01T00:00:00',
      '2024-01-01',
      'now',
    ),
  },
);

const decimals = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 100_000 }).map((cents) => (cents / 100).toFixed(2)) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '0',
      '-0.01',
      '-1000',
      '0.001',
      '1.5',
      '999999999999999',
      '999999999999999.9999999999',
      '-999999999999999.9999999999',
      '1e5',
      'NaN',
      'Infinity',
      ' 1',
      '1,5',
      '',
      '0x10',
    ),
  },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
);

const ints = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -3, max: 400 }) },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 2, arbitrary: fc.constantFrom(0, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 53, 1e21, 1.5) },
);

const floats = fc.oneof(
  fc.constantFrom(0, 0.2, 0.25, 1, 0.05, 0.15, 0.1),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(-0, -1, 1e308, 5e-324, 1.0000001),
);

const typeOf = (id: string) => Buffer.from(id, 'base64').toString().split(':')[0]!;

/**
 * The node type an id field most likely names, so most ids get past the type check into the
 * resolver: `webhookId` a Webhook, other `…Id` fields a Party, `id` the type its input names
 * (RevokeApiKeyInput → ApiKey); null when nothing fits (any type then).
 */
function likelyType(inputType: string, field: string): string | null {
  if (field !== 'id') {
    const named = field.replace(/Id$/, '');
    const type = named.charAt(0).toUpperCase() + named.slice(1);
    return typeNames.includes(type) ? type : 'Party';
  }
  return typeNames.filter((type) => inputType.includes(type)).sort((a, b) => b.length - a.length)[0] ?? null;
}

function idsFrom(pool: IdPool, inputType: string, field: string, tame: boolean): fc.Arbitrary<unknown> {
  const type = likelyType(inputType, field);
  const ofType = (ids: string[]) => {
    const matching = ids.filter((id) => typeOf(id) === type);
    return matching.length > 0 ? matching : ids;
  };
  if (tame) {
    return fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...ofType(pool.own)) },
      { weight: 1, arbitrary: fc.constantFrom(...ofType(pool.foreign)) },
    );
  }
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...ofType(pool.own)) },
    { weight: 2, arbitrary: fc.constantFrom(...pool.own) },
    { weight: 3, arbitrary: fc.constantFrom(...ofType(pool.foreign)) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom(...typeNames), fc.oneof(fc.uuid(), fc.constantFrom(...pool.foreignRaw))).map(([type, raw]) =>
        globalId(type, raw),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.oneof(
        fc.constantFrom(globalId('Party', "1' or '1'='1"), globalId('Party', ''), 'UGFydHk6', 'Party:1', '=', globalId('Party', 'x'.repeat(5000))),
        fc.uuid(),
        hostileStrings,
        fc.integer(),
      ),
    },
  );
}

/** What the generators need: the schema, the ids to use, and whether to stay within the rules' reach. */
export interface InputContext {
  schema: SchemaInfo;
  pool: IdPool;
  /** true: valid-looking values only (past validation, into the commands); false: hostile too. */
  tame: boolean;
}

export function inputArbitrary(context: InputContext, ref: TypeRef, field = '', parent = ''): fc.Arbitrary<unknown> {
  const { schema, tame } = context;
  if (ref.kind === 'NON_NULL') {
    const value = inputArbitrary(context, ref.ofType!, field, parent);
    return tame ? value : fc.oneof({ weight: 30, arbitrary: value }, { weight: 1, arbitrary: fc.constant(null) });
  }
  if (ref.kind === 'LIST') {
    const item = inputArbitrary(context, ref.ofType!, field, parent);
    if (tame) return fc.array(item, { maxLength: 3 });
    return fc.oneof(
      { weight: 8, arbitrary: fc.array(item, { maxLength: 4 }) },
      // Past every list limit (tags ≤ 20, rows ≤ 1000), built from one value to stay cheap.
      {
        weight: 1,
        arbitrary: fc.tuple(item, fc.constantFrom(21, 101, 1001)).map(([value, n]) => {
          // A list of huge values would only test JSON.stringify: keep the body near 2 MB at most.
          const size = JSON.stringify(value ?? null).length;
          return Array(Math.max(21, Math.min(n, Math.floor(2_000_000 / size)))).fill(value);
        }),
      },
      // A single value where a list is expected (GraphQL coerces it to a list of one).
      { weight: 1, arbitrary: item },
    );
  }
  const type = schema.types.get(ref.name!)!;
  const value = valueOf(context, type, field, parent);
  return tame ? value : fc.oneof({ weight: 30, arbitrary: value }, { weight: 1, arbitrary: wrongType });
}

const tameInts = fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 400 }));
const tameFloats = fc.constantFrom(0, 0.05, 0.1, 0.15, 0.2, 0.25, 1);
const tameDecimals = fc.integer({ min: 0, max: 100_000 }).map((cents) => (cents / 100).toFixed(2));
const pastInstants = fc.date({ min: new Date('2024-01-01T00:00:00Z'), max: new Date(Date.now() - 60_000), noInvalidDate: true });

function valueOf(context: InputContext, type: NamedType, field: string, parent: string): fc.Arbitrary<unknown> {
  const { pool, tame } = context;
  switch (type.kind) {
    case 'ENUM': {
      const names = type.enumValues!.map((v) => v.name);
      // The tenant's own currency gets past validation; any other Currency is a VALIDATION refusal.
      if (type.name === 'Currency') {
        if (tame) return fc.constant('CNY');
        return fc.oneof(
          { weight: 6, arbitrary: fc.constantFrom('CNY', 'USD', 'JPY', ...names) },
          { weight: 1, arbitrary: fc.oneof(fc.constantFrom('cny', 'XXY', 'EURO', ''), hostileStrings) },
        );
      }
      if (tame) return fc.constantFrom(...names);
      return fc.oneof(
        { weight: 9, arbitrary: fc.constantFrom(...names) },
        { weight: 1, arbitrary: fc.oneof(fc.constantFrom(...names.map((n) => n.toLowerCase())), hostileStrings) },
      );
    }
    case 'INPUT_OBJECT':
      return objectOf(context, type);
    case 'SCALAR':
      switch (type.name) {
        case 'ID':
          return idsFrom(pool, parent, field, tame);
        case 'String':
          if (field === 'referralCode') {
            const codes = fc.constantFrom(...pool.codes);
            return tame ? codes : fc.oneof(codes, codes.map((c) => ` ${c.toLowerCase().slice(0, 4)}-${c.slice(4)} `), stringFor(field, false));
          }
          return stringFor(field, tame);
        case 'Int':
          return tame ? tameInts : ints;
        case 'Float':
          return tame ? tameFloats : floats;
        case 'Boolean':
          return fc.boolean();
        case 'Decimal':
          return tame ? tameDecimals : decimals;
        case 'Date':
          return tame ? pastInstants.map(dateOnly) : dates;
        case 'DateTime':
          return tame ? pastInstants.map((d) => d.toISOString()) : dateTimes;
        default:
          return fc.jsonValue({ maxDepth: tame ? 1 : 3 });
      }
    default:
      throw new Error(`${type.name} (${type.kind}) cannot be an input`);
  }
}

function objectOf(context: InputContext, type: NamedType): fc.Arbitrary<unknown> {
  const { tame } = context;
  const entries = type.inputFields!.map((field) => {
    const value = inputArbitrary(context, field.type, field.name, type.name).map((v) => ({ some: v }));
    // Required fields are (nearly always) sent; optional ones are absent, null or a value.
    const present =
      field.type.kind === 'NON_NULL'
        ? tame
          ? value
          : fc.oneof({ weight: 30, arbitrary: value }, { weight: 1, arbitrary: fc.constant(null) })
        : fc.oneof(
            { weight: 4, arbitrary: fc.constant(null) },
            { weight: tame ? 0 : 1, arbitrary: fc.constant({ some: null }) },
            { weight: 5, arbitrary: value },
          );
    return present.map((p) => [field.name, p] as const);
  });
  const extra = fc.oneof({ weight: 30, arbitrary: fc.constant(null) }, { weight: tame ? 0 : 1, arbitrary: fc.constant(['notAField', 1] as const) });
  return fc.tuple(fc.tuple(...entries), extra).map(([pairs, unknown]) => {
    const object: Record<string, unknown> = {};
    for (const [name, present] of pairs) if (present) object[name] = present.some;
    if (unknown) object[unknown[0]] = unknown[1];
    return object;
  });
}
