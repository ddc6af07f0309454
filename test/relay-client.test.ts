import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTestApi, type TenantClient, type TestApi } from '../packages/graphql/test/helpers';
import { schemaFile } from '../packages/graphql/src/print-schema';
import { root } from './serve-process';

/**
 * A small Relay frontend (test/relay-app: a paginated list with @connection and @refetchable, a
 * node refetch, a mutation with @deleteRecord) compiled by relay-compiler against schema.graphql,
 * its compiled operations then run against the server as Relay would send them. The compiler is
 * the strictest reader of the Relay conventions a frontend team relies on: Node ids, connections,
 * pageInfo.
 */
const run = promisify(execFile);

interface CompiledOperation {
  name: string;
  operationKind: 'query' | 'mutation';
  text: string;
}

let dir = '';
let compilerOutput = '';
const operations = new Map<string, CompiledOperation>();
let api: TestApi;
let client: TenantClient;

async function compileRelayApp(): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'guanxi-relay-'));
  cpSync(join(root, 'test', 'relay-app', 'src'), join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'relay.config.json'), JSON.stringify({ src: './src', schema: schemaFile, language: 'javascript' }));
  // The artifacts are ES modules (`export default`).
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  const { stdout, stderr } = await run(process.execPath, [join(root, 'node_modules', 'relay-compiler', 'cli.js')], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1' },
  });
  compilerOutput = stdout + stderr;
  const generated = join(dir, 'src', '__generated__');
  for (const file of readdirSync(generated)) {
    const artifact = (await import(pathToFileURL(join(generated, file)).href)).default as { params?: CompiledOperation };
    if (artifact.params) operations.set(artifact.params.name, artifact.params);
  }
}

/** Sends a compiled operation as Relay's network layer does: its text and variables. */
async function send<T = any>(name: string, variables: Record<string, unknown>): Promise<T> {
  const operation = operations.get(name);
  if (!operation) throw new Error(`relay-compiler made no operation ${name}; it made ${[...operations.keys()].join(', ')}`);
  return client.query<T>(operation.text, variables);
}

describe('a Relay frontend compiled against schema.graphql', () => {
  beforeAll(async () => {
    await compileRelayApp();
    api = await createTestApi();
    client = await api.newTenant('Relay frontend');
  }, 120_000);

  afterAll(async () => {
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('relay-compiler compiles the list, the refetchable card and the delete mutation', () => {
    expect(compilerOutput).toMatch(/Compilation completed/);
    expect([...operations.keys()].sort()).toEqual([
      'DisconnectPartiesMutation',
      'PartyDetailRefetchQuery',
      'PartyListPaginationQuery',
      'PartyListQuery',
    ]);
  });

  test('the compiled operations run: a first page, the next page by its cursor, a node refetch, a @deleteRecord', async () => {
    const ids: string[] = [];
    for (let i = 1; i <= 7; i++) {
      const { createParty } = await client.query(
        `mutation ($name: String!) { createParty(input: { kind: CUSTOMER, displayName: $name }) { party { id } } }`,
        { name: `Relay ${i}` },
      );
      ids.push(createParty.party.id);
    }
    const { connectParties } = await client.query(
      `mutation ($from: ID!, $to: ID!) { connectParties(input: { fromId: $from, toId: $to, type: FRIEND }) { relationship { id } } }`,
      { from: ids[0], to: ids[1] },
    );
    const relationshipId = connectParties.relationship.id as string;

    type Page = { parties: { totalCount: number; edges: { cursor: string; node: { id: string } }[]; pageInfo: { endCursor: string; hasNextPage: boolean } } };
    const first = await send<Page>('PartyListQuery', { count: 5 });
    expect(first.parties.totalCount).toBe(7);
    expect(first.parties.edges).toHaveLength(5);
    expect(first.parties.pageInfo.hasNextPage).toBe(true);
    const next = await send<Page>('PartyListPaginationQuery', { count: 5, cursor: first.parties.pageInfo.endCursor });
    expect(next.parties.edges).toHaveLength(2);
    expect(next.parties.pageInfo.hasNextPage).toBe(false);
    const listed = [...first.parties.edges, ...next.parties.edges].map((edge) => edge.node.id);
    expect(new Set(listed)).toEqual(new Set(ids));

    type Card = { node: { __typename: string; id: string; displayName: string; relationships: { edges: { node: { id: string } }[] } } };
    const card = await send<Card>('PartyDetailRefetchQuery', { id: ids[0] });
    expect(card.node).toMatchObject({ __typename: 'Party', id: ids[0], displayName: 'Relay 1' });
    expect(card.node.relationships.edges.map((edge) => edge.node.id)).toEqual([relationshipId]);

    const { disconnectParties } = await send('DisconnectPartiesMutation', { input: { id: relationshipId } });
    expect(disconnectParties).toEqual({ deletedId: relationshipId, userErrors: [] });
    const after = await send<Card>('PartyDetailRefetchQuery', { id: ids[0] });
    expect(after.node.relationships.edges).toEqual([]);
  });
});
