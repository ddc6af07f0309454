-- The nightly expiry's "lots written since the previous run" reads an index of lots only
-- (points.sql.ts): the index of every entry by time had it walk each day's other entries too.
DROP INDEX "points_entries_tenant_at_idx";--> statement-breakpoint
CREATE INDEX "points_lots_written_idx" ON "points_entries" USING btree ("tenant_id","at") WHERE "points_entries"."points" > 0 and "points_entries"."expires_at" is not null;--> statement-breakpoint
-- Erasure (privacy): staff write free text about a party's history: why its stage moved, why its
-- points were adjusted, why an order was refunded, why its tier was set. That text may quote the
-- person ("goodwill for Zhang Wei"). Those rows are never rewritten (triggers, and no UPDATE
-- granted to the application), so, as for the audit log (0006), one owner-rights function takes
-- a party's values out of them, and the triggers let through its updates, which change nothing
-- but `reason`.
CREATE OR REPLACE FUNCTION guanxi_reason_redaction(old_row jsonb, new_row jsonb) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('guanxi.redacting', true), '') = 'on' AND (old_row - 'reason') = (new_row - 'reason')
$$;
--> statement-breakpoint
-- One refusal for every append-only table (it replaces 0001's for stage history and 0010's for the
-- ledger), with the one exception above.
CREATE FUNCTION guanxi_refuse_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND guanxi_reason_redaction(to_jsonb(OLD), to_jsonb(NEW)) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'restrict_violation';
END
$$;
--> statement-breakpoint
DROP TRIGGER stage_transitions_append_only ON "stage_transitions";
--> statement-breakpoint
DROP TRIGGER points_entries_append_only ON "points_entries";
--> statement-breakpoint
DROP TRIGGER points_draws_append_only ON "points_draws";
--> statement-breakpoint
CREATE TRIGGER stage_transitions_append_only BEFORE UPDATE OR DELETE ON "stage_transitions"
  FOR EACH ROW EXECUTE FUNCTION guanxi_refuse_rewrite();
--> statement-breakpoint
CREATE TRIGGER points_entries_append_only BEFORE UPDATE OR DELETE ON "points_entries"
  FOR EACH ROW EXECUTE FUNCTION guanxi_refuse_rewrite();
--> statement-breakpoint
CREATE TRIGGER points_draws_append_only BEFORE UPDATE OR DELETE ON "points_draws"
  FOR EACH ROW EXECUTE FUNCTION guanxi_refuse_rewrite();
--> statement-breakpoint
DROP FUNCTION guanxi_refuse_history_rewrite();
--> statement-breakpoint
DROP FUNCTION guanxi_refuse_ledger_rewrite();
--> statement-breakpoint
-- Only the current tenant's rows about the party (row security still applies to the owner, FORCE),
-- and only by redaction (guanxi_redact_json on the text as a JSON string). The flag the triggers
-- read is set for these updates alone.
CREATE OR REPLACE FUNCTION guanxi_redact_reasons(party uuid, vals text[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  tenant uuid := guanxi_current_tenant();
  changed integer := 0;
  n integer;
  history text;
BEGIN
  IF tenant IS NULL THEN
    RAISE EXCEPTION 'guanxi_redact_reasons needs a tenant transaction';
  END IF;
  PERFORM set_config('guanxi.redacting', 'on', true);
  FOREACH history IN ARRAY ARRAY['stage_transitions', 'points_entries', 'tier_history'] LOOP
    EXECUTE format(
      'UPDATE %I h SET reason = guanxi_redact_json(to_jsonb(h.reason), $1) #>> ''{}''
        WHERE h.tenant_id = $2 AND h.party_id = $3 AND h.reason IS NOT NULL
          AND guanxi_redact_json(to_jsonb(h.reason), $1) #>> ''{}'' IS DISTINCT FROM h.reason', history)
      USING vals, tenant, party;
    GET DIAGNOSTICS n = ROW_COUNT;
    changed := changed + n;
  END LOOP;
  -- A refund names its order, not the party.
  UPDATE order_refunds f SET reason = guanxi_redact_json(to_jsonb(f.reason), vals) #>> '{}'
   WHERE f.tenant_id = tenant AND f.reason IS NOT NULL
     AND f.order_id IN (SELECT o.id FROM orders o WHERE o.tenant_id = tenant AND o.party_id = party)
     AND guanxi_redact_json(to_jsonb(f.reason), vals) #>> '{}' IS DISTINCT FROM f.reason;
  GET DIAGNOSTICS n = ROW_COUNT;
  changed := changed + n;
  PERFORM set_config('guanxi.redacting', '', true);
  RETURN changed;
END;
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION guanxi_redact_reasons(uuid, text[]) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION guanxi_redact_reasons(uuid, text[]) TO guanxi_app;
