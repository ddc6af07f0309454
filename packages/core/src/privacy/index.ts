import { and, asc, eq, getTableColumns, or, sql } from 'drizzle-orm';
import { recordAudit } from '../audit';
import { useTenantId, useTransaction } from '../drizzle/transaction';
import { UserError } from '../errors';
import { isUuid } from '../ids';
import { loyaltySnapshots, partyLoyalty, tierHistory } from '../loyalty/loyalty.sql';
import { interactions } from '../network/interactions.sql';
import { orders } from '../network/orders.sql';
import { parties } from '../network/parties.sql';
import { relationships } from '../network/relationships.sql';
import { referralCodes, referrals, referralSubtreeSizes } from '../referrals/referrals.sql';
import { pointsDraws, pointsEntries } from '../points/points.sql';
import { orderRefunds } from '../network/refunds.sql';
import { stageTransitions } from '../stages/stage-transitions.sql';
import { webhookDeliveries } from '../webhooks/deliveries.sql';
import { emitEvent } from '../webhooks';

type PartyRow = typeof parties.$inferSelect;

/** Bumped whenever the export document's shape changes, so consumers can tell versions apart. */
export const exportSchemaVersion = 3;

async function requirePartyById(id: string, forUpdate = false): Promise<PartyRow> {
  if (!isUuid(id)) throw UserError.of('NOT_FOUND', 'No such party', 'id');
  const query = useTransaction()
    .select()
    .from(parties)
    .where(and(eq(parties.tenantId, useTenantId()), eq(parties.id, id)));
  const [party] = forUpdate ? await query.for('update') : await query;
  if (!party) throw UserError.of('NOT_FOUND', 'No such party', 'id');
  return party;
}

/**
 * Everything held about a party (right of access / portability), as one JSON document: every
 * table that names the party, each under its own key. Webhook deliveries are left out (they are
 * copies of events sent to partners, not records about the person).
 */
export async function exportPartyData(id: string): Promise<Record<string, unknown>> {
  const tx = useTransaction();
  const tenantId = useTenantId();
  const party = await requirePartyById(id);
  const [rels, partyOrders, partyInteractions, asReferrer, asReferee, codes, snapshots, latest, history, subtree, ledger, draws, refunds, tiers] = await Promise.all([
    tx
      .select()
      .from(relationships)
      .where(and(eq(relationships.tenantId, tenantId), or(eq(relationships.fromPartyId, id), eq(relationships.toPartyId, id))))
      .orderBy(asc(relationships.createdAt), asc(relationships.id)),
    tx.select().from(orders).where(and(eq(orders.tenantId, tenantId), eq(orders.partyId, id))).orderBy(asc(orders.placedAt), asc(orders.id)),
    tx
      .select()
      .from(interactions)
      .where(and(eq(interactions.tenantId, tenantId), eq(interactions.partyId, id)))
      .orderBy(asc(interactions.occurredAt), asc(interactions.id)),
    tx.select().from(referrals).where(and(eq(referrals.tenantId, tenantId), eq(referrals.referrerId, id))).orderBy(asc(referrals.createdAt)),
    tx.select().from(referrals).where(and(eq(referrals.tenantId, tenantId), eq(referrals.refereeId, id))),
    tx.select().from(referralCodes).where(and(eq(referralCodes.tenantId, tenantId), eq(referralCodes.partyId, id))),
    tx
      .select()
      .from(loyaltySnapshots)
      .where(and(eq(loyaltySnapshots.tenantId, tenantId), eq(loyaltySnapshots.partyId, id)))
      .orderBy(asc(loyaltySnapshots.asOf)),
    tx.select().from(partyLoyalty).where(and(eq(partyLoyalty.tenantId, tenantId), eq(partyLoyalty.partyId, id))),
    tx
      .select()
      .from(stageTransitions)
      .where(and(eq(stageTransitions.tenantId, tenantId), eq(stageTransitions.partyId, id)))
      .orderBy(asc(stageTransitions.at), asc(stageTransitions.id)),
    tx.select().from(referralSubtreeSizes).where(and(eq(referralSubtreeSizes.tenantId, tenantId), eq(referralSubtreeSizes.partyId, id))),
    tx
      .select()
      .from(pointsEntries)
      .where(and(eq(pointsEntries.tenantId, tenantId), eq(pointsEntries.partyId, id)))
      .orderBy(asc(pointsEntries.at), asc(pointsEntries.id)),
    tx
      .select()
      .from(pointsDraws)
      .where(and(eq(pointsDraws.tenantId, tenantId), eq(pointsDraws.partyId, id)))
      .orderBy(asc(pointsDraws.at), asc(pointsDraws.id)),
    // Refunds name their order, not the party: those of the party's orders.
    tx
      .select(getTableColumns(orderRefunds))
      .from(orderRefunds)
      .innerJoin(orders, and(eq(orders.tenantId, orderRefunds.tenantId), eq(orders.id, orderRefunds.orderId)))
      .where(and(eq(orderRefunds.tenantId, tenantId), eq(orders.partyId, id)))
      .orderBy(asc(orderRefunds.createdAt), asc(orderRefunds.id)),
    tx
      .select()
      .from(tierHistory)
      .where(and(eq(tierHistory.tenantId, tenantId), eq(tierHistory.partyId, id)))
      .orderBy(asc(tierHistory.at), asc(tierHistory.id)),
  ]);
  // Exporting personal data is itself an access to it: audited (without the data).
  await recordAudit({ operation: 'exportPartyData', entityType: 'Party', entityIds: [id] });
  // A JSON round trip turns Dates into ISO strings, so the document is plain JSON as delivered.
  return JSON.parse(
    JSON.stringify({
      schemaVersion: exportSchemaVersion,
      exportedAt: new Date().toISOString(),
      party,
      relationships: rels,
      orders: partyOrders,
      orderRefunds: refunds,
      interactions: partyInteractions,
      referralsAsReferrer: asReferrer,
      referralAsReferee: asReferee[0] ?? null,
      referralCode: codes[0] ?? null,
      referralSubtree: subtree[0] ?? null,
      loyaltySnapshots: snapshots,
      // The copy of the latest snapshot that lists sort by (all nulls before the first score).
      latestLoyalty: latest[0] ?? null,
      stageHistory: history,
      // The member points ledger and which lots each spending entry drew from.
      pointsLedger: ledger,
      pointsDraws: draws,
      tierHistory: tiers,
    }),
  ) as Record<string, unknown>;
}

export const erasedDisplayName = 'Erased party';

/**
 * Right to erasure: blanks the party's personal fields irreversibly while keeping what statistics
 * need (orders' amounts and dates, the referral structure, loyalty snapshots, stage history), so
 * scores, segments and referral leaderboards do not change. Free text written about the person
 * (relationship labels, interaction notes) is personal too and blanked. Copies of the values
 * elsewhere — audit details, queued or sent webhook payloads, fraud evidence, rejection reasons —
 * are redacted with guanxi_redact_json (migration 0006); the audit log is append-only for the
 * application, so its redaction goes through the SECURITY DEFINER guanxi_redact_audit_details,
 * which can only redact, and only rows of the current tenant that name the party.
 *
 * Staff free text about the party's history (the reasons of stage moves, points entries, refunds,
 * tier changes and a tier override) may quote the person as well: those are redacted the same
 * way, the append-only ones through the SECURITY DEFINER guanxi_redact_reasons (migration 0011),
 * which changes nothing else of a row.
 */
export async function erasePartyData(id: string): Promise<PartyRow> {
  const tx = useTransaction();
  const tenantId = useTenantId();
  const party = await requirePartyById(id, true);
  if (party.erasedAt) throw UserError.of('CONFLICT', "This party's personal data was already erased", 'id');

  const [labels, notes] = await Promise.all([
    tx
      .select({ label: relationships.label })
      .from(relationships)
      .where(and(eq(relationships.tenantId, tenantId), or(eq(relationships.fromPartyId, id), eq(relationships.toPartyId, id)))),
    tx
      .select({ note: interactions.note })
      .from(interactions)
      .where(and(eq(interactions.tenantId, tenantId), eq(interactions.partyId, id))),
  ]);
  // Every personal value, to redact wherever it was copied. Held in memory only for this call.
  const values = [
    party.displayName,
    party.email,
    party.phone,
    party.company,
    party.externalId,
    party.decisionStyle,
    party.birthday,
    party.notes,
    ...party.tags,
    ...labels.map((row) => row.label),
    ...notes.map((row) => row.note),
  ].filter((value): value is string => typeof value === 'string' && value.trim().length >= 2);
  const valuesArray = sql`${JSON.stringify(values)}::jsonb`;
  const valuesText = sql`array(select jsonb_array_elements_text(${valuesArray}))`;

  const [erased] = await tx
    .update(parties)
    .set({
      displayName: erasedDisplayName,
      email: null,
      phone: null,
      company: null,
      externalId: null,
      tags: [],
      decisionStyle: null,
      birthday: null,
      notes: null,
      erasedAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .where(and(eq(parties.tenantId, tenantId), eq(parties.id, id)))
    .returning();
  await tx
    .update(relationships)
    .set({ label: null })
    .where(and(eq(relationships.tenantId, tenantId), or(eq(relationships.fromPartyId, id), eq(relationships.toPartyId, id))));
  await tx
    .update(interactions)
    .set({ note: null })
    .where(and(eq(interactions.tenantId, tenantId), eq(interactions.partyId, id)));
  if (values.length > 0) {
    // Referral structure stays; only text that may quote the person is redacted.
    await tx.execute(sql`
      update ${referrals}
         set fraud_signals = guanxi_redact_json(fraud_signals, ${valuesText}),
             rejected_reason = (guanxi_redact_json(to_jsonb(rejected_reason), ${valuesText}) #>> '{}')
       where tenant_id = ${tenantId} and (referrer_id = ${id} or referee_id = ${id})`);
    // Outbox and delivery log: any event about the party, or quoting its values.
    await tx.execute(sql`
      update ${webhookDeliveries}
         set payload = guanxi_redact_json(payload, ${valuesText})
       where tenant_id = ${tenantId}
         and guanxi_redact_json(payload, ${valuesText}) is distinct from payload`);
    await tx.execute(sql`select guanxi_redact_audit_details(${id}::uuid, ${valuesText})`);
    await tx.execute(sql`select guanxi_redact_reasons(${id}::uuid, ${valuesText})`);
    await tx.execute(sql`
      update ${partyLoyalty}
         set override_reason = (guanxi_redact_json(to_jsonb(override_reason), ${valuesText}) #>> '{}')
       where tenant_id = ${tenantId} and party_id = ${id} and override_reason is not null`);
  }
  // Recorded after the redaction, and naming only which kinds of data were erased.
  await recordAudit({
    operation: 'erasePartyData',
    entityType: 'Party',
    entityIds: [id],
    details: { relationshipLabels: labels.filter((r) => r.label).length, interactionNotes: notes.filter((r) => r.note).length },
  });
  // Partners holding a copy learn they must erase it too; the event carries no personal data.
  await emitEvent('party.updated', { party: { id }, erased: true });
  return erased!;
}
