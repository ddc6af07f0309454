CREATE TABLE "webhook_deliveries" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"webhook_id" uuid NOT NULL,
	"event" text NOT NULL,
	"payload" jsonb NOT NULL,
	"status" text DEFAULT 'PENDING' NOT NULL,
	"attempts" smallint DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp (3) with time zone DEFAULT now(),
	"last_status_code" integer,
	"last_error" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp (3) with time zone,
	CONSTRAINT "webhook_deliveries_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "webhook_deliveries_status" CHECK ("webhook_deliveries"."status" in ('PENDING', 'DELIVERED', 'FAILED')),
	CONSTRAINT "webhook_deliveries_due_when_pending" CHECK (("webhook_deliveries"."status" = 'PENDING') = ("webhook_deliveries"."next_attempt_at" is not null)),
	CONSTRAINT "webhook_deliveries_attempts" CHECK ("webhook_deliveries"."attempts" >= 0)
);
--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_webhook_fk" FOREIGN KEY ("tenant_id","webhook_id") REFERENCES "public"."webhooks"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "webhook_deliveries_due_idx" ON "webhook_deliveries" USING btree ("tenant_id","next_attempt_at") WHERE "webhook_deliveries"."status" = 'PENDING';--> statement-breakpoint
CREATE INDEX "webhook_deliveries_webhook_idx" ON "webhook_deliveries" USING btree ("tenant_id","webhook_id","created_at","id");--> statement-breakpoint
CREATE INDEX "audit_log_entity_ids_idx" ON "audit_log" USING gin ("entity_ids");--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON "webhook_deliveries" TO guanxi_app;
--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "webhook_deliveries" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "webhook_deliveries" USING ("tenant_id" = guanxi_current_tenant()) WITH CHECK ("tenant_id" = guanxi_current_tenant());
--> statement-breakpoint
-- Erasure (privacy): replaces every occurrence of the given values inside a JSON document's text,
-- case-insensitively, with "[erased]". It works on the JSON text with each value in its JSON-escaped
-- form, so a match always lies inside a string (or key) and the result is still valid JSON.
CREATE OR REPLACE FUNCTION guanxi_redact_json(doc jsonb, vals text[]) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  body text := doc::text;
  v text;
  escaped text;
BEGIN
  IF doc IS NULL OR vals IS NULL THEN RETURN doc; END IF;
  FOREACH v IN ARRAY vals LOOP
    CONTINUE WHEN v IS NULL OR length(v) < 2;
    escaped := to_jsonb(v)::text;
    escaped := substr(escaped, 2, length(escaped) - 2);
    escaped := regexp_replace(escaped, '([!$()*+.:<=>?[\\\]^{|}-])', '\\\1', 'g');
    body := regexp_replace(body, escaped, '[erased]', 'gi');
  END LOOP;
  RETURN body::jsonb;
END;
$$;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION guanxi_redact_json(jsonb, text[]) TO guanxi_app;
--> statement-breakpoint
-- The audit log is append-only for the application (0002 revokes UPDATE), yet an erasure must take
-- a person's values out of it. This is the one way to change it: owner rights (SECURITY DEFINER),
-- only the `details` of the current tenant's rows that name the party, and only by redaction. Row
-- security still applies (FORCE), so the owner sees the calling transaction's tenant only.
CREATE OR REPLACE FUNCTION guanxi_redact_audit_details(party_id uuid, vals text[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  tenant uuid := guanxi_current_tenant();
  changed integer;
BEGIN
  IF tenant IS NULL THEN
    RAISE EXCEPTION 'guanxi_redact_audit_details needs a tenant transaction';
  END IF;
  UPDATE audit_log a
     SET details = guanxi_redact_json(a.details, vals)
   WHERE a.tenant_id = tenant
     AND a.details IS NOT NULL
     AND (a.entity_ids @> ARRAY[party_id::text] OR strpos(a.details::text, party_id::text) > 0)
     AND guanxi_redact_json(a.details, vals) IS DISTINCT FROM a.details;
  GET DIAGNOSTICS changed = ROW_COUNT;
  RETURN changed;
END;
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION guanxi_redact_audit_details(uuid, text[]) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION guanxi_redact_audit_details(uuid, text[]) TO guanxi_app;
