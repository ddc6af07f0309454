import { rawIdOf } from '@guanxi/graphql/global-ids';

/**
 * `--tenant` as a person has it at hand: the id the API answers (createTenant, viewer.tenant.id:
 * a global id) or the uuid the CLI and the dev server print. Both name the same tenant; anything
 * else is refused before a database is opened.
 */
export function tenantOption(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const id = rawIdOf('Tenant', value);
  if (!id) {
    throw new Error(
      `--tenant ${JSON.stringify(value)} is not a tenant id: give the id the API answers (createTenant, viewer { tenant { id } }) or the uuid guanxi prints`,
    );
  }
  return id;
}
