import {
  getNamedType,
  getNullableType,
  getOperationAST,
  GraphQLError,
  isCompositeType,
  isListType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { defaultPageSize } from './connections';

/**
 * api: cost is the number of objects a query can return, counted as GitHub does: a connection
 * multiplies what it contains by its `first`/`last` (or the default page size); every object
 * field and every node counts 1; the `edges` and `pageInfo` wrappers and scalars count 0. A list
 * that is not a connection multiplies by its `first` argument, or by the page size.
 */
export function objectCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): number {
  const operation = getOperationAST(document, operationName ?? undefined);
  if (!operation) return 0;
  const root = schema.getRootType(operation.operation);
  if (!root) return 0;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }

  const countOf = (value: ValueNode | undefined): number | null => {
    if (!value) return null;
    if (value.kind === Kind.INT) return Number(value.value);
    if (value.kind === Kind.VARIABLE) {
      const given = variables?.[value.name.value];
      return typeof given === 'number' && Number.isFinite(given) ? given : null;
    }
    return null;
  };
  // What the query asks for, else the argument's default in the schema, else the page size.
  const pageOf = (selection: FieldNode, field: GraphQLField<unknown, unknown>): number => {
    const asked = (name: string) => countOf(selection.arguments?.find((a) => a.name.value === name)?.value);
    const defaulted = (name: string) => {
      const value = field.args.find((a) => a.name === name)?.defaultValue;
      return typeof value === 'number' ? value : null;
    };
    return Math.max(0, asked('first') ?? asked('last') ?? defaulted('first') ?? defaulted('last') ?? defaultPageSize);
  };

  // Fragments spread inside themselves are refused by validation; the guard keeps this total.
  const walk = (selectionSet: SelectionSetNode, parent: GraphQLCompositeType, multiplier: number, spreading: Set<string>): number => {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const on = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        if (on && isCompositeType(on)) total += walk(selection.selectionSet, on, multiplier, spreading);
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        const on = fragment && schema.getType(fragment.typeCondition.name.value);
        if (!fragment || !on || !isCompositeType(on) || spreading.has(name)) continue;
        total += walk(fragment.selectionSet, on, multiplier, new Set(spreading).add(name));
        continue;
      }
      const name = selection.name.value;
      if (name.startsWith('__') || !selection.selectionSet) continue;
      const field = 'getFields' in parent ? (parent.getFields()[name] as GraphQLField<unknown, unknown> | undefined) : undefined;
      if (!field) continue;
      const type = getNamedType(field.type);
      if (!isCompositeType(type)) continue;
      if (isWrapper(parent, name)) {
        total += walk(selection.selectionSet, type, multiplier, spreading);
        continue;
      }
      if (isConnection(type)) {
        total += multiplier + walk(selection.selectionSet, type, multiplier * pageOf(selection, field), spreading);
        continue;
      }
      const inner = isListType(getNullableType(field.type)) ? multiplier * pageOf(selection, field) : multiplier;
      total += inner + walk(selection.selectionSet, type, inner, spreading);
    }
    return total;
  };
  return walk(operation.selectionSet, root, 1, new Set());
}

function isConnection(type: GraphQLCompositeType): boolean {
  return isObjectType(type) && type.name.endsWith('Connection') && 'edges' in type.getFields() && 'pageInfo' in type.getFields();
}

/** `edges` and `pageInfo` of a connection: wrappers, counted 0 (their nodes count). */
function isWrapper(parent: GraphQLCompositeType, field: string): boolean {
  return isConnection(parent) && (field === 'edges' || field === 'pageInfo');
}

export interface CostExtension {
  requested: number;
  limit: number;
}

/**
 * Refuses an operation whose cost is over `limit` before it runs (`QUERY_TOO_COMPLEX`, both
 * numbers in the message) and puts `extensions.cost { requested limit }` on every answer. The
 * refusal is a validation error: it comes before the caller is resolved, so an over-limit query
 * costs no statement at all (not even the key lookup). The cost depends on the variables
 * (`first: $n`), so it is cached per parsed document (yoga caches those) and per value of the
 * variables it reads.
 */
export function useObjectCost(limit: number): Plugin {
  const cache = new WeakMap<DocumentNode, Map<string, number>>();
  const costOf = (schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown> | null | undefined) => {
    let byVariables = cache.get(document);
    if (!byVariables) cache.set(document, (byVariables = new Map()));
    const key = `${operationName ?? ''}\u0000${JSON.stringify(variables ?? {})}`;
    let cost = byVariables.get(key);
    if (cost === undefined) {
      cost = objectCost(schema, document, operationName, variables);
      if (byVariables.size < 100) byVariables.set(key, cost);
    }
    return cost;
  };
  // The cost of each refused request, for its answer's extensions (a validation failure has no
  // execution result to carry them).
  const refused = new WeakMap<Request, CostExtension>();
  return {
    onValidate({ context, params }) {
      // Counted on a valid document only: the walk trusts the fields to exist.
      return ({ valid, setResult }) => {
        if (!valid) return;
        const { request, params: graphqlParams } = context as { request: Request; params?: { operationName?: string | null; variables?: Record<string, unknown> | null } };
        const requested = costOf(params.schema, params.documentAST, graphqlParams?.operationName, graphqlParams?.variables);
        if (requested <= limit) return;
        const cost: CostExtension = { requested, limit };
        refused.set(request, cost);
        setResult([
          new GraphQLError(
            `Query cost ${requested.toLocaleString('en')} is over the limit of ${limit.toLocaleString('en')} objects: ask for fewer items per page (first/last) or fewer nested lists`,
            { extensions: { code: 'QUERY_TOO_COMPLEX', cost } },
          ),
        ]);
      };
    },
    onExecute({ args }) {
      const cost: CostExtension = {
        requested: costOf(args.schema, args.document, args.operationName, args.variableValues as Record<string, unknown> | undefined),
        limit,
      };
      return {
        onExecuteDone({ result, setResult }) {
          if (!result || typeof result !== 'object' || Symbol.asyncIterator in result) return;
          setResult({ ...result, extensions: { ...result.extensions, cost } });
        },
      };
    },
    onResultProcess({ request, result, setResult }) {
      const cost = refused.get(request);
      if (!cost || !result || Array.isArray(result) || typeof result !== 'object' || Symbol.asyncIterator in result) return;
      setResult({ ...result, extensions: { ...(result as { extensions?: object }).extensions, cost } } as never);
    },
  };
}
