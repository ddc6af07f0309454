import { savepoint, UserError, type UserErrorCode } from '@guanxi/core';
import { builder } from './builder';

const UserErrorCodeEnum = builder.enumType('UserErrorCode', {
  values: ['VALIDATION', 'NOT_FOUND', 'CONFLICT', 'FORBIDDEN', 'RATE_LIMITED'] as const,
});

export interface UserErrorShape {
  code: UserErrorCode;
  field: string[] | null;
  message: string;
}

/** A refusal the caller can act on; a payload with user errors changed nothing. */
export const UserErrorType = builder.objectRef<UserErrorShape>('UserError').implement({
  fields: (t) => ({
    code: t.field({ type: UserErrorCodeEnum, resolve: (e) => e.code }),
    field: t.stringList({
      nullable: true,
      description: 'Path to the input field at fault, e.g. ["input", "email"].',
      resolve: (e) => e.field,
    }),
    message: t.exposeString('message'),
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
) {
  return builder.objectRef<Partial<Shape> & { userErrors: UserErrorShape[] }>(name).implement({
    fields: (t) => ({
      ...(fields(t as never) as object),
      userErrors: t.field({ type: [UserErrorType], resolve: (payload) => payload.userErrors }),
    }) as never,
  });
}
