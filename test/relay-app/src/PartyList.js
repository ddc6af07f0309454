// A list screen: the first page of parties, then "load more" through the pagination query Relay
// generates from @refetchable, appended by @connection.
import { graphql } from 'react-relay';

export const partyListQuery = graphql`
  query PartyListQuery($count: Int = 5, $cursor: String) {
    ...PartyList_query @arguments(count: $count, cursor: $cursor)
  }
`;

export const partyListFragment = graphql`
  fragment PartyList_query on Query
  @refetchable(queryName: "PartyListPaginationQuery")
  @argumentDefinitions(count: { type: "Int", defaultValue: 5 }, cursor: { type: "String" }) {
    parties(first: $count, after: $cursor) @connection(key: "PartyList_parties") {
      totalCount
      edges {
        node {
          id
          displayName
          kind
          stage
          ...PartyDetail_party
        }
      }
    }
  }
`;
