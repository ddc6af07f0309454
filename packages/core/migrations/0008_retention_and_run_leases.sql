ALTER TABLE "scoring_runs" ADD COLUMN "heartbeat_at" timestamp (3) with time zone;--> statement-breakpoint
-- Rate-limit counters are worthless once their window has ended, and one row per tenant and per
-- caller arrives every minute. The maintenance job prunes every tenant's in one statement, which
-- tenant isolation would hide: these two policies let a transaction that switched
-- app.maintenance on see and delete other tenants' counters, and only counters more than an hour
-- old (the longest window the limiter takes, rate-limit.ts), so not even the job can reset a
-- window still being counted. DELETE needs both: its WHERE reads rows through the SELECT policies.
CREATE POLICY "maintenance_prune_select" ON "rate_limit_counters" FOR SELECT
  USING (current_setting('app.maintenance', true) = 'on' AND "window_start" < now() - interval '1 hour');
--> statement-breakpoint
CREATE POLICY "maintenance_prune" ON "rate_limit_counters" FOR DELETE
  USING (current_setting('app.maintenance', true) = 'on' AND "window_start" < now() - interval '1 hour');
--> statement-breakpoint
-- The audit log stays append-only for the application (0002 revokes DELETE); its retention is the
-- tenant's setting `auditLogRetentionDays` (0 or missing: kept forever, the default). This is the
-- one way rows leave it: owner rights (SECURITY DEFINER), the maintenance job only
-- (app.maintenance), the current tenant's rows only (row security still applies, FORCE), at most
-- `max_rows` per call, and never a row younger than the tenant's own setting says, whatever
-- `cutoff` the caller passes — with a floor of 180 days, so shortening the setting cannot wipe
-- the record of what was just done (the change itself is an audited mutation).
CREATE OR REPLACE FUNCTION guanxi_prune_audit_log(cutoff timestamptz, max_rows integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  tenant uuid := guanxi_current_tenant();
  days integer;
  removed integer;
BEGIN
  IF tenant IS NULL OR current_setting('app.maintenance', true) IS DISTINCT FROM 'on' THEN
    RAISE EXCEPTION 'guanxi_prune_audit_log is for the maintenance job, in a tenant transaction';
  END IF;
  SELECT (t.settings ->> 'auditLogRetentionDays')::integer INTO days FROM tenants t WHERE t.id = tenant;
  IF days IS NULL OR days <= 0 THEN
    RETURN 0;
  END IF;
  DELETE FROM audit_log a
   WHERE (a.tenant_id, a.id) IN (
     SELECT b.tenant_id, b.id FROM audit_log b
      WHERE b.tenant_id = tenant
        AND b.at < least(cutoff, now() - make_interval(days => greatest(days, 180)))
      LIMIT max_rows);
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END;
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION guanxi_prune_audit_log(timestamptz, integer) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION guanxi_prune_audit_log(timestamptz, integer) TO guanxi_app;
