/**
 * Secrets, set per stage with `sst secret set <Name> <value> --stage <stage>` and handed to the
 * functions that `link` them (read with `Resource.<Name>.value`; see handlers/lambda.ts for the
 * variable each becomes). DatabaseUrl has no placeholder, so a stage without it does not deploy.
 * Optional ones default to "none", which the handlers read as "not configured".
 */
export const databaseUrl = new sst.Secret('DatabaseUrl');
/** Frontend sign-in (JWT): all three, or none (bearer tokens are then refused). */
export const jwtIssuer = new sst.Secret('JwtIssuer', 'none');
export const jwtAudience = new sst.Secret('JwtAudience', 'none');
export const jwksUrl = new sst.Secret('JwksUrl', 'none');
/** Enables `createTenant` over the API (≥ 32 characters); "none" disables it. */
export const operatorKey = new sst.Secret('OperatorKey', 'none');
/**
 * Delivery settings of the webhook worker, JSON (`{"limit":100,"timeoutMs":10000}`). Each
 * webhook's signing secret is made per webhook and kept in the database, not here.
 */
export const webhookSigningSettings = new sst.Secret('WebhookSigningSettings', '{}');

/** What the GraphQL API reads. */
export const apiSecrets = [databaseUrl, jwtIssuer, jwtAudience, jwksUrl, operatorKey];
