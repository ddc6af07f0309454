-- Each party's latest-snapshot copy moves from columns of "parties" to a narrow table of its own,
-- without the snapshot's day: on "parties" the nightly job rewrote every party's copy, each a wide
-- row and an entry in each of its ten indexes; here a copy is written only when its score,
-- segment or tier changes (see party_loyalty in loyalty.sql.ts).
CREATE TABLE "party_loyalty" (
	"tenant_id" uuid NOT NULL,
	"party_id" uuid NOT NULL,
	"score" numeric(4, 1),
	"segment" "segment",
	"tier" "tier",
	CONSTRAINT "party_loyalty_tenant_id_party_id_pk" PRIMARY KEY("tenant_id","party_id"),
	CONSTRAINT "party_loyalty_scored" CHECK (("party_loyalty"."score" is null) = ("party_loyalty"."segment" is null) and ("party_loyalty"."segment" is null) = ("party_loyalty"."tier" is null))
);
--> statement-breakpoint
ALTER TABLE "party_loyalty" ADD CONSTRAINT "party_loyalty_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "party_loyalty" ADD CONSTRAINT "party_loyalty_party_fk" FOREIGN KEY ("tenant_id","party_id") REFERENCES "public"."parties"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON "party_loyalty" TO guanxi_app;
--> statement-breakpoint
ALTER TABLE "party_loyalty" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "party_loyalty" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "party_loyalty" USING ("tenant_id" = guanxi_current_tenant()) WITH CHECK ("tenant_id" = guanxi_current_tenant());
--> statement-breakpoint
-- Every party has its row from the start, whatever inserted it (API, import, seed, a benchmark):
-- one statement per inserting statement, any number of rows.
CREATE FUNCTION guanxi_parties_add_loyalty_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO party_loyalty (tenant_id, party_id) SELECT tenant_id, id FROM inserted_parties;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "parties_add_loyalty_rows" AFTER INSERT ON "parties"
  REFERENCING NEW TABLE AS inserted_parties FOR EACH STATEMENT EXECUTE FUNCTION guanxi_parties_add_loyalty_rows();
--> statement-breakpoint
-- The copies of parties written before this migration, tenant by tenant (row-level security is
-- forced on the owner too, so each tenant is opened as the application would open it).
DO $$
DECLARE
  t uuid;
BEGIN
  PERFORM set_config('app.list_tenants', 'on', true);
  FOR t IN SELECT id FROM tenants LOOP
    PERFORM set_config('app.tenant_id', t::text, true);
    INSERT INTO party_loyalty (tenant_id, party_id, score, segment, tier)
    SELECT tenant_id, id, loyalty_score, loyalty_segment, loyalty_tier FROM parties WHERE tenant_id = t;
  END LOOP;
  PERFORM set_config('app.tenant_id', '', true);
  PERFORM set_config('app.list_tenants', '', true);
END
$$;
--> statement-breakpoint
CREATE INDEX "party_loyalty_score_idx" ON "party_loyalty" USING btree ("tenant_id",coalesce("score", -1),"party_id");--> statement-breakpoint
CREATE INDEX "party_loyalty_segment_idx" ON "party_loyalty" USING btree ("tenant_id","segment") WHERE "party_loyalty"."segment" is not null;--> statement-breakpoint
DROP INDEX "parties_tenant_score_idx";--> statement-breakpoint
DROP INDEX "parties_tenant_segment_idx";--> statement-breakpoint
ALTER TABLE "parties" DROP COLUMN "loyalty_as_of";--> statement-breakpoint
ALTER TABLE "parties" DROP COLUMN "loyalty_score";--> statement-breakpoint
ALTER TABLE "parties" DROP COLUMN "loyalty_segment";--> statement-breakpoint
ALTER TABLE "parties" DROP COLUMN "loyalty_tier";
