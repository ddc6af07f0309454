/** The codes of the API contract's `userErrors`. */
export type UserErrorCode = 'VALIDATION' | 'NOT_FOUND' | 'CONFLICT' | 'FORBIDDEN' | 'RATE_LIMITED';

export interface UserErrorDetail {
  code: UserErrorCode;
  /** Path of the input field at fault, e.g. ['input', 'email']; null when it is the whole input. */
  field: string[] | null;
  message: string;
}

/**
 * A refusal the caller can act on. Commands throw it; the transaction (or savepoint) around the
 * command rolls back, and the GraphQL layer turns it into `userErrors`.
 */
export class UserError extends Error {
  readonly errors: UserErrorDetail[];

  constructor(errors: UserErrorDetail | UserErrorDetail[]) {
    const list = Array.isArray(errors) ? errors : [errors];
    super(list.map((e) => e.message).join('; '));
    this.name = 'UserError';
    this.errors = list;
  }

  static of(code: UserErrorCode, message: string, field?: string | string[]): UserError {
    return new UserError({
      code,
      message,
      field: field === undefined ? null : Array.isArray(field) ? field : ['input', field],
    });
  }
}
