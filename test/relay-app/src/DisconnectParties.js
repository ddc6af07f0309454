// Removing a relationship: @deleteRecord drops it from Relay's store by the id the payload names.
import { graphql } from 'react-relay';

export const disconnectPartiesMutation = graphql`
  mutation DisconnectPartiesMutation($input: DisconnectPartiesInput!) {
    disconnectParties(input: $input) {
      deletedId @deleteRecord
      userErrors {
        code
        field
        message
      }
    }
  }
`;
