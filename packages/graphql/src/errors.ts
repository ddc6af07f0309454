import { savepoint, UserError, type UserErrorCode } from '@guanxi/core';
import { builder } from './builder';

const UserErrorCodeEnum = builder.enumType('UserErrorCode', {
  description: 'The kind of a refusal in a payload\'s userErrors (and in extensions.code of a query refused for the same reasons).',
  values: {
    VALIDATION: { description: 'An input value breaks a rule: a range, a format, a required value, a length.' },
    NOT_FOUND: { description: 'An id or code names nothing this tenant holds.' },
    CONFLICT: { description: 'The request is valid but the current state forbids it (a duplicate, a status or stage that does not allow it).' },
    FORBIDDEN: { description: 'The caller may not make this change.' },
    RATE_LIMITED: { description: 'Too many requests; try again later.' },
  } as const,
});

export interface UserErrorShape {
  code: UserErrorCode;
  field: string[] | null;
  message: string;
}

/** A refusal the caller can act on; a payload with user errors changed nothing. */
export const UserErrorType = builder.objectRef<UserErrorShape>('UserError').implement({
  description: 'A refusal the caller can act on; a payload with user errors changed nothing.',
  fields: (t) => ({
    code: t.field({ type: UserErrorCodeEnum, description: 'What kind of refusal, to branch on.', resolve: (e) => e.code }),
    field: t.stringList({
      nullable: true,
      description: 'Path to the input field at fault, e.g. ["input", "email"].',
      resolve: (e) => e.field,
    }),
    message: t.exposeString('message', { description: 'What is wrong, in English, for people; do not parse it.' }),
  }),
});

/**
 * Runs a mutation's work in a savepoint: a user error (or any failure) undoes everything the work
 * wrote, and user errors come back in the payload instead of as GraphQL errors.
 */
export async function runMutation<T extends object>(
  work: () => Promise<T>,
): Promise<Partial<T> & { userErrors: UserErrorShape[] }> {
  try {
    const result = await savepoint(work);
    return { ...result, userErrors: [] };
  } catch (error) {
    if (error instanceof UserError) return { userErrors: error.errors } as never;
    throw error;
  }
}

type PayloadFieldBuilder<Shape extends object> = PothosSchemaTypes.ObjectFieldBuilder<
  typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never,
  Shape & { userErrors: UserErrorShape[] }
>;

/**
 * A mutation payload (api: `{ <thing>, userErrors { code field message } }`): the given fields
 * plus `userErrors`. Fields are nullable because a refused mutation returns none of them.
 */
export function payloadType<Shape extends object>(
  name: string,
  fields: (t: PayloadFieldBuilder<Partial<Shape>>) => Record<string, unknown>,
  description?: string,
) {
  return builder.objectRef<Partial<Shape> & { userErrors: UserErrorShape[] }>(name).implement({
    description,
    fields: (t) => ({
      ...(fields(t as never) as object),
      userErrors: t.field({
        type: [UserErrorType],
        description:
          'Why the mutation was refused, one entry per problem; empty on success. When it is not empty the mutation changed nothing and the other fields are null.',
        resolve: (payload) => payload.userErrors,
      }),
    }) as never,
  });
}
