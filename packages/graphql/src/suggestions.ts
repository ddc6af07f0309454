import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { RequestContext } from './context';

// graphql-js ends a refusal with its guesses: `Did you mean "name"?`, `Did you mean "a", "b", or
// "c"?`, `Did you mean the enum value "CUSTOMER"?`. Names hold no "?", so the guess ends at one.
const suggestion = /\s*Did you mean [^?]*\?/g;

function withoutSuggestion<E extends Error>(error: E): E | GraphQLError {
  if (!(error instanceof GraphQLError)) return error;
  const message = error.message.replace(suggestion, '');
  if (message === error.message) return error;
  return new GraphQLError(message, {
    nodes: error.nodes ?? null,
    source: error.source ?? null,
    positions: error.positions ?? null,
    path: error.path ?? null,
    originalError: error.originalError ?? null,
    extensions: error.extensions,
  });
}

/**
 * Without introspection, "did you mean …" hints would hand out the schema a guess at a time: field,
 * argument and type names in validation, enum values and input fields both in validation (literals)
 * and in execution (variables are coerced there). Every such hint is cut, wherever it arises.
 */
export function useNoSuggestions(): Plugin<RequestContext> {
  return {
    onValidate() {
      return ({ valid, result, setResult }) => {
        if (!valid) setResult(result.map(withoutSuggestion));
      };
    },
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          if (!result || typeof result !== 'object' || Symbol.asyncIterator in result || !result.errors?.length) return;
          setResult({ ...result, errors: result.errors.map(withoutSuggestion) });
        },
      };
    },
  };
}
