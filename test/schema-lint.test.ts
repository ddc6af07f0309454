import graphqlPlugin from '@graphql-eslint/eslint-plugin';
import { ESLint, type Linter } from 'eslint';
import { describe, expect, test } from 'vitest';
import { usingPostgres } from '../packages/core/src/test/index';
import { schemaFile } from '../packages/graphql/src/print-schema';

/**
 * graphql-eslint's schema rules over schema.graphql, as a frontend team's linter would run them:
 * Relay connections, edges, page info and paging arguments, one `id: ID!` per identifiable type,
 * and a description on every element. The schema is a file, so the Postgres project skips this.
 */

/**
 * Object types that are values, not things with an identity: a payload, a count, a summary or a
 * part of another object. They are never fetched again by id, so they carry none (GitHub's and
 * Shopify's schemas do the same).
 */
const valueTypes = [
  'Actor',
  'AllowedMove',
  'ChurnRate',
  'FollowUp',
  'FraudSignal',
  'ImportPartyResult',
  'LoyaltyComponents',
  'Membership',
  'MembershipOverride',
  'Money',
  'NetworkGraph',
  'Pareto',
  'PointsBalance',
  'PointsExpiry',
  'ReferralStats',
  'SegmentMove',
  'SegmentShare',
  'StageCount',
  'StageFunnelRow',
  'StagePolicyRun',
  'TierBenefit',
  'TopReferrer',
  'UserError',
  'Viewer',
];

const rules: Linter.RulesRecord = {
  '@graphql-eslint/relay-connection-types': 'error',
  // Lists that are not connections are bounded (a party's tags, the eight RFM segments…): they
  // page nothing, so they need no edges.
  '@graphql-eslint/relay-edge-types': ['error', { withEdgeSuffix: true, shouldImplementNode: true, listTypeCanWrapOnlyEdgeType: false }],
  '@graphql-eslint/relay-page-info': 'error',
  '@graphql-eslint/relay-arguments': ['error', { includeBoth: true }],
  '@graphql-eslint/strict-id-in-types': [
    'error',
    {
      acceptedIdNames: ['id'],
      acceptedIdTypes: ['ID'],
      exceptions: { types: valueTypes, suffixes: ['Payload', 'Connection', 'Edge', 'PageInfo'] },
    },
  ],
  '@graphql-eslint/require-description': [
    'error',
    {
      types: true,
      rootField: true,
      FieldDefinition: true,
      InputValueDefinition: true,
      EnumValueDefinition: true,
      DirectiveDefinition: true,
      ScalarTypeDefinition: true,
    },
  ],
};

describe.skipIf(usingPostgres())('graphql-eslint over schema.graphql', () => {
  test.each(Object.keys(rules))('%s reports nothing', async (rule) => {
    const eslint = new ESLint({
      overrideConfigFile: true,
      overrideConfig: [
        {
          files: ['**/*.graphql'],
          languageOptions: { parser: graphqlPlugin.parser, parserOptions: { graphQLConfig: { schema: schemaFile } } },
          plugins: { '@graphql-eslint': graphqlPlugin as never },
          rules: { [rule]: rules[rule]! },
        },
      ],
    });
    const [result] = await eslint.lintFiles([schemaFile]);
    const violations = result!.messages.map((message) => `${message.line}: ${message.message}`);
    expect(violations).toEqual([]);
  });
});
