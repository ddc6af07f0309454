import type { GraphiQLPreset } from '@guanxi/graphql';

/** The operations GraphiQL opens with, each tab carrying the demo credential. */
export function graphiqlExamples(apiKey: string): GraphiQLPreset {
  const headers = JSON.stringify({ Authorization: `ApiKey ${apiKey}` }, null, 2);
  const tab = (query: string, variables?: object) => ({
    query: query.trim() + '\n',
    headers,
    ...(variables ? { variables: JSON.stringify(variables, null, 2) } : {}),
  });
  return {
    headers,
    tabs: [
      tab(`
# Who am I, and which tenant is this?
query Viewer {
  viewer { kind actorId scopes tenant { id name currency settings } }
}`),
      tab(`
# The customer network, five at a time. Try filter: { kinds: [CUSTOMER], search: "wang" }.
query Parties($after: String) {
  parties(first: 5, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id kind displayName company email phone tags stage createdAt } }
  }
}`),
      tab(
        `
# A new prospect. Bad input comes back in userErrors, naming the field, and changes nothing.
mutation CreateParty($input: CreatePartyInput!) {
  createParty(input: $input) {
    party { id displayName kind stage }
    userErrors { code field message }
  }
}`,
        {
          input: {
            kind: 'PROSPECT',
            displayName: '林晓',
            email: 'lin.xiao@example.cn',
            phone: '+8613800138000',
            tags: ['tea-lover'],
          },
        },
      ),
    ],
  };
}
