// A detail card that refreshes itself: @refetchable on a Node type makes Relay generate a query
// through node(id:).
import { graphql } from 'react-relay';

export const partyDetailFragment = graphql`
  fragment PartyDetail_party on Party @refetchable(queryName: "PartyDetailRefetchQuery") {
    id
    displayName
    kind
    stage
    relationships(first: 5) {
      edges {
        node {
          id
          type
        }
      }
    }
  }
`;
