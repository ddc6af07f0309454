ALTER TABLE "parties" ADD COLUMN "loyalty_as_of" date;--> statement-breakpoint
ALTER TABLE "parties" ADD COLUMN "loyalty_score" numeric(4, 1);--> statement-breakpoint
ALTER TABLE "parties" ADD COLUMN "loyalty_segment" "segment";--> statement-breakpoint
ALTER TABLE "parties" ADD COLUMN "loyalty_tier" "tier";--> statement-breakpoint
CREATE INDEX "parties_tenant_score_idx" ON "parties" USING btree ("tenant_id",coalesce("loyalty_score", -1),"id");--> statement-breakpoint
CREATE INDEX "parties_tenant_segment_idx" ON "parties" USING btree ("tenant_id","loyalty_segment") WHERE "parties"."loyalty_segment" is not null;