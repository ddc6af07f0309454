-- Tenant isolation in depth. Code filters every query by tenant; on top of that, row-level
-- security is enabled AND forced on every tenant table, and tenant work runs under the non-owner
-- role guanxi_app with the tenant set transaction-locally (app.tenant_id). A query that forgets
-- its tenant filter then sees only the current tenant's rows, and none at all outside a tenant.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'guanxi_app') THEN
    CREATE ROLE guanxi_app NOLOGIN;
  END IF;
  -- USAGE, not MEMBER: on Postgres 16+ a role's creator is a member with admin rights only,
  -- which does not let it SET ROLE; the explicit grant adds that.
  IF NOT pg_has_role(current_user, 'guanxi_app', 'USAGE') THEN
    EXECUTE format('GRANT guanxi_app TO %I', current_user);
  END IF;
END
$$;
--> statement-breakpoint
-- The tenant of the current transaction, or null outside one (an unset custom setting reads '').
CREATE OR REPLACE FUNCTION guanxi_current_tenant() RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT nullif(current_setting('app.tenant_id', true), '')::uuid
$$;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO guanxi_app;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION guanxi_current_tenant() TO guanxi_app;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO guanxi_app;
--> statement-breakpoint
-- domain: stage history and the audit log are append-only for the application.
REVOKE UPDATE, DELETE ON "stage_transitions", "audit_log" FROM guanxi_app;
--> statement-breakpoint
-- Tenants are created by the operator tooling, never deleted by the application.
REVOKE DELETE ON "tenants" FROM guanxi_app;
--> statement-breakpoint
ALTER TABLE "tenants" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "tenants" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "tenants" USING ("id" = guanxi_current_tenant()) WITH CHECK ("id" = guanxi_current_tenant());
--> statement-breakpoint
-- The nightly job and operator tooling enumerate tenants (ids, names, settings: no personal data)
-- by switching this on in their own transaction.
CREATE POLICY "operator_listing" ON "tenants" FOR SELECT USING (current_setting('app.list_tenants', true) = 'on');
--> statement-breakpoint
ALTER TABLE "api_keys" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "api_keys" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "api_keys" USING ("tenant_id" = guanxi_current_tenant()) WITH CHECK ("tenant_id" = guanxi_current_tenant());
--> statement-breakpoint
ALTER TABLE "parties" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "parties" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "parties" USING ("tenant_id" = guanxi_current_tenant()) WITH CHECK ("tenant_id" = guanxi_current_tenant());
--> statement-breakpoint
ALTER TABLE "relationships" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "relationships" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "relationships" USING ("tenant_id" = guanxi_current_tenant()) WITH CHECK ("tenant_id" = guanxi_current_tenant());
--> statement-breakpoint
ALTER TABLE "orders" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "orders" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "orders" USING ("tenant_id" = guanxi_current_tenant()) WITH CHECK ("tenant_id" = guanxi_current_tenant());
--> statement-breakpoint
ALTER TABLE "interactions" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "interactions" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "interactions" USING ("tenant_id" = guanxi_current_tenant()) WITH CHECK ("tenant_id" = guanxi_current_tenant());
--> statement-breakpoint
ALTER TABLE "stage_transitions" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "stage_transitions" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "stage_transitions" USING ("tenant_id" = guanxi_current_tenant()) WITH CHECK ("tenant_id" = guanxi_current_tenant());
--> statement-breakpoint
ALTER TABLE "referral_codes" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "referral_codes" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "referral_codes" USING ("tenant_id" = guanxi_current_tenant()) WITH CHECK ("tenant_id" = guanxi_current_tenant());
--> statement-breakpoint
ALTER TABLE "referrals" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "referrals" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "referrals" USING ("tenant_id" = guanxi_current_tenant()) WITH CHECK ("tenant_id" = guanxi_current_tenant());
--> statement-breakpoint
ALTER TABLE "loyalty_snapshots" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "loyalty_snapshots" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "loyalty_snapshots" USING ("tenant_id" = guanxi_current_tenant()) WITH CHECK ("tenant_id" = guanxi_current_tenant());
--> statement-breakpoint
ALTER TABLE "scoring_runs" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "scoring_runs" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "scoring_runs" USING ("tenant_id" = guanxi_current_tenant()) WITH CHECK ("tenant_id" = guanxi_current_tenant());
--> statement-breakpoint
ALTER TABLE "webhooks" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "webhooks" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "webhooks" USING ("tenant_id" = guanxi_current_tenant()) WITH CHECK ("tenant_id" = guanxi_current_tenant());
--> statement-breakpoint
ALTER TABLE "audit_log" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "audit_log" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "audit_log" USING ("tenant_id" = guanxi_current_tenant()) WITH CHECK ("tenant_id" = guanxi_current_tenant());
--> statement-breakpoint
-- Authentication looks a key up by the hash of its secret before the tenant is known: a row is
-- visible to whoever already holds its hash, i.e. the key itself, and to nobody else.
CREATE POLICY "lookup_by_secret_hash" ON "api_keys" FOR SELECT USING ("secret_hash" = current_setting('app.api_key_hash', true));
