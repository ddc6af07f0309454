CREATE TYPE "public"."interaction_kind" AS ENUM('CALL', 'EMAIL', 'MEETING', 'EVENT', 'VISIT', 'CARE', 'COMPLAINT', 'FEEDBACK');--> statement-breakpoint
CREATE TYPE "public"."party_kind" AS ENUM('CUSTOMER', 'PROSPECT', 'PARTNER', 'SOCIAL_CONTACT');--> statement-breakpoint
CREATE TYPE "public"."relationship_type" AS ENUM('REFERRED', 'COLLEAGUE', 'FAMILY', 'FRIEND', 'PARTNER_OF', 'FOLLOWS', 'OTHER');--> statement-breakpoint
CREATE TYPE "public"."actor_kind" AS ENUM('USER', 'API_KEY', 'SYSTEM');--> statement-breakpoint
CREATE TYPE "public"."stage" AS ENUM('INITIAL_CONTACT', 'TRUST_BUILDING', 'LOYALTY_GROWTH', 'LONG_TERM_PARTNERSHIP', 'DORMANT', 'CHURNED');--> statement-breakpoint
CREATE TYPE "public"."referral_status" AS ENUM('PENDING', 'CONVERTED', 'REWARDED', 'REJECTED');--> statement-breakpoint
CREATE TYPE "public"."scoring_run_status" AS ENUM('RUNNING', 'SUCCEEDED', 'FAILED');--> statement-breakpoint
CREATE TYPE "public"."segment" AS ENUM('IMPORTANT_VALUE', 'IMPORTANT_DEVELOP', 'IMPORTANT_RETAIN', 'IMPORTANT_WIN_BACK', 'GENERAL_VALUE', 'GENERAL_DEVELOP', 'GENERAL_RETAIN', 'GENERAL_WIN_BACK');--> statement-breakpoint
CREATE TYPE "public"."tier" AS ENUM('PLATINUM', 'GOLD', 'SILVER', 'BRONZE');--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"currency" char(3) DEFAULT 'CNY' NOT NULL,
	"settings" jsonb NOT NULL,
	"rule_version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tenants_name_not_blank" CHECK (length(btrim("tenants"."name")) between 1 and 200),
	CONSTRAINT "tenants_currency_iso" CHECK ("tenants"."currency" ~ '^[A-Z]{3}$')
);
--> statement-breakpoint
CREATE TABLE "api_keys" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"display_prefix" text NOT NULL,
	"secret_hash" char(64) NOT NULL,
	"scopes" text[] NOT NULL,
	"created_by" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp (3) with time zone,
	"revoked_at" timestamp (3) with time zone,
	"last_used_at" timestamp (3) with time zone,
	CONSTRAINT "api_keys_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "api_keys_name_length" CHECK (length(btrim("api_keys"."name")) between 1 and 100)
);
--> statement-breakpoint
CREATE TABLE "parties" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"kind" "party_kind" NOT NULL,
	"display_name" text NOT NULL,
	"email" text,
	"phone" text,
	"company" text,
	"external_id" text,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"decision_style" text,
	"birthday" date,
	"notes" text,
	"owner_id" text,
	"stage" "stage" DEFAULT 'INITIAL_CONTACT' NOT NULL,
	"stage_changed_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"dormant_from_stage" "stage",
	"archived_at" timestamp (3) with time zone,
	"merged_into_id" uuid,
	"erased_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "parties_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "parties_display_name_length" CHECK (length(btrim("parties"."display_name")) between 1 and 200),
	CONSTRAINT "parties_not_merged_into_self" CHECK ("parties"."merged_into_id" is distinct from "parties"."id")
);
--> statement-breakpoint
CREATE TABLE "relationships" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"type" "relationship_type" NOT NULL,
	"from_party_id" uuid NOT NULL,
	"to_party_id" uuid NOT NULL,
	"strength" smallint DEFAULT 3 NOT NULL,
	"label" text,
	"since" date,
	"until" date,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "relationships_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "relationships_no_self_edge" CHECK ("relationships"."from_party_id" <> "relationships"."to_party_id"),
	CONSTRAINT "relationships_strength_range" CHECK ("relationships"."strength" between 1 and 5),
	CONSTRAINT "relationships_period" CHECK ("relationships"."until" is null or "relationships"."since" is null or "relationships"."since" <= "relationships"."until")
);
--> statement-breakpoint
CREATE TABLE "orders" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"party_id" uuid NOT NULL,
	"external_id" text,
	"amount" numeric NOT NULL,
	"currency" char(3) NOT NULL,
	"placed_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"satisfaction" smallint,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orders_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "orders_amount_not_negative" CHECK ("orders"."amount" >= 0),
	CONSTRAINT "orders_satisfaction_range" CHECK ("orders"."satisfaction" is null or "orders"."satisfaction" between 1 and 5)
);
--> statement-breakpoint
CREATE TABLE "interactions" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"party_id" uuid NOT NULL,
	"kind" "interaction_kind" NOT NULL,
	"occurred_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"satisfaction" smallint,
	"note" text,
	"actor_kind" "actor_kind" NOT NULL,
	"actor_id" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "interactions_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "interactions_satisfaction_range" CHECK ("interactions"."satisfaction" is null or "interactions"."satisfaction" between 1 and 5)
);
--> statement-breakpoint
CREATE TABLE "stage_transitions" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"party_id" uuid NOT NULL,
	"from_stage" "stage",
	"to_stage" "stage" NOT NULL,
	"at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"actor_kind" "actor_kind" NOT NULL,
	"actor_id" text,
	"reason" text,
	"seconds_in_previous" bigint,
	"automatic" boolean DEFAULT false NOT NULL,
	"rule" text,
	CONSTRAINT "stage_transitions_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "stage_transitions_moves" CHECK ("stage_transitions"."from_stage" is distinct from "stage_transitions"."to_stage"),
	CONSTRAINT "stage_transitions_rule_when_automatic" CHECK (not "stage_transitions"."automatic" or "stage_transitions"."rule" is not null),
	CONSTRAINT "stage_transitions_seconds" CHECK ("stage_transitions"."seconds_in_previous" is null or "stage_transitions"."seconds_in_previous" >= 0)
);
--> statement-breakpoint
CREATE TABLE "referral_codes" (
	"tenant_id" uuid NOT NULL,
	"party_id" uuid NOT NULL,
	"code" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "referral_codes_tenant_id_party_id_pk" PRIMARY KEY("tenant_id","party_id")
);
--> statement-breakpoint
CREATE TABLE "referrals" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"referrer_id" uuid NOT NULL,
	"referee_id" uuid NOT NULL,
	"code" text,
	"channel" text,
	"status" "referral_status" DEFAULT 'PENDING' NOT NULL,
	"reward_amount" numeric,
	"reward_currency" char(3),
	"converting_order_id" uuid,
	"fraud_signals" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"converted_at" timestamp (3) with time zone,
	"rewarded_at" timestamp (3) with time zone,
	"rejected_at" timestamp (3) with time zone,
	"rejected_reason" text,
	CONSTRAINT "referrals_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "referrals_not_self" CHECK ("referrals"."referrer_id" <> "referrals"."referee_id"),
	CONSTRAINT "referrals_reward_not_negative" CHECK ("referrals"."reward_amount" is null or "referrals"."reward_amount" >= 0),
	CONSTRAINT "referrals_status_dates" CHECK (("referrals"."status" in ('CONVERTED', 'REWARDED')) = ("referrals"."converted_at" is not null)
        and ("referrals"."status" = 'REWARDED') = ("referrals"."rewarded_at" is not null)
        and ("referrals"."status" = 'REJECTED') = ("referrals"."rejected_at" is not null))
);
--> statement-breakpoint
CREATE TABLE "loyalty_snapshots" (
	"tenant_id" uuid NOT NULL,
	"party_id" uuid NOT NULL,
	"as_of" date NOT NULL,
	"run_id" uuid,
	"recency_days" integer NOT NULL,
	"frequency" integer NOT NULL,
	"monetary" numeric NOT NULL,
	"satisfaction_mean" numeric,
	"satisfying_orders" integer NOT NULL,
	"converted_referrals" integer NOT NULL,
	"interactions" integer NOT NULL,
	"typical_gap_days" numeric NOT NULL,
	"r" smallint NOT NULL,
	"f" smallint NOT NULL,
	"m" smallint NOT NULL,
	"segment" "segment" NOT NULL,
	"recency_component" numeric(6, 5) NOT NULL,
	"frequency_component" numeric(6, 5) NOT NULL,
	"monetary_component" numeric(6, 5) NOT NULL,
	"satisfaction_component" numeric(6, 5) NOT NULL,
	"referrals_component" numeric(6, 5) NOT NULL,
	"engagement_component" numeric(6, 5) NOT NULL,
	"score" numeric(4, 1) NOT NULL,
	"tier" "tier" NOT NULL,
	"churn_risk" numeric(6, 5) NOT NULL,
	"loyal" boolean NOT NULL,
	"rule_version" integer NOT NULL,
	CONSTRAINT "loyalty_snapshots_tenant_id_party_id_as_of_pk" PRIMARY KEY("tenant_id","party_id","as_of"),
	CONSTRAINT "loyalty_snapshots_rfm_range" CHECK ("loyalty_snapshots"."r" between 1 and 5 and "loyalty_snapshots"."f" between 1 and 5 and "loyalty_snapshots"."m" between 1 and 5),
	CONSTRAINT "loyalty_snapshots_score_range" CHECK ("loyalty_snapshots"."score" between 0 and 100),
	CONSTRAINT "loyalty_snapshots_churn_range" CHECK ("loyalty_snapshots"."churn_risk" between 0 and 1)
);
--> statement-breakpoint
CREATE TABLE "scoring_runs" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"as_of" date NOT NULL,
	"status" "scoring_run_status" DEFAULT 'RUNNING' NOT NULL,
	"started_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp (3) with time zone,
	"duration_ms" integer,
	"parties_scored" integer,
	"stage_moves" jsonb,
	"rule_version" integer,
	"triggered_by" text,
	"error" text,
	CONSTRAINT "scoring_runs_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "scoring_runs_finished" CHECK (("scoring_runs"."status" = 'RUNNING') = ("scoring_runs"."finished_at" is null))
);
--> statement-breakpoint
CREATE TABLE "webhooks" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"url" text NOT NULL,
	"events" text[] NOT NULL,
	"description" text,
	"secret" text NOT NULL,
	"created_by" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp (3) with time zone,
	CONSTRAINT "webhooks_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "webhooks_has_events" CHECK (cardinality("webhooks"."events") > 0)
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"tenant_id" uuid NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"actor_kind" "actor_kind" NOT NULL,
	"actor_id" text,
	"operation" text NOT NULL,
	"entity_type" text,
	"entity_ids" text[] NOT NULL,
	"request_id" text,
	"details" jsonb,
	CONSTRAINT "audit_log_tenant_id_id_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "parties" ADD CONSTRAINT "parties_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "parties" ADD CONSTRAINT "parties_merged_into_fk" FOREIGN KEY ("tenant_id","merged_into_id") REFERENCES "public"."parties"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "relationships" ADD CONSTRAINT "relationships_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "relationships" ADD CONSTRAINT "relationships_from_fk" FOREIGN KEY ("tenant_id","from_party_id") REFERENCES "public"."parties"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "relationships" ADD CONSTRAINT "relationships_to_fk" FOREIGN KEY ("tenant_id","to_party_id") REFERENCES "public"."parties"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_party_fk" FOREIGN KEY ("tenant_id","party_id") REFERENCES "public"."parties"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "interactions" ADD CONSTRAINT "interactions_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "interactions" ADD CONSTRAINT "interactions_party_fk" FOREIGN KEY ("tenant_id","party_id") REFERENCES "public"."parties"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stage_transitions" ADD CONSTRAINT "stage_transitions_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stage_transitions" ADD CONSTRAINT "stage_transitions_party_fk" FOREIGN KEY ("tenant_id","party_id") REFERENCES "public"."parties"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "referral_codes" ADD CONSTRAINT "referral_codes_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "referral_codes" ADD CONSTRAINT "referral_codes_party_fk" FOREIGN KEY ("tenant_id","party_id") REFERENCES "public"."parties"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "referrals" ADD CONSTRAINT "referrals_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "referrals" ADD CONSTRAINT "referrals_referrer_fk" FOREIGN KEY ("tenant_id","referrer_id") REFERENCES "public"."parties"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "referrals" ADD CONSTRAINT "referrals_referee_fk" FOREIGN KEY ("tenant_id","referee_id") REFERENCES "public"."parties"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "loyalty_snapshots" ADD CONSTRAINT "loyalty_snapshots_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "loyalty_snapshots" ADD CONSTRAINT "loyalty_snapshots_party_fk" FOREIGN KEY ("tenant_id","party_id") REFERENCES "public"."parties"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scoring_runs" ADD CONSTRAINT "scoring_runs_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhooks" ADD CONSTRAINT "webhooks_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_secret_hash_uq" ON "api_keys" USING btree ("secret_hash");--> statement-breakpoint
CREATE INDEX "api_keys_tenant_created_idx" ON "api_keys" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "parties_external_id_uq" ON "parties" USING btree ("tenant_id","external_id") WHERE "parties"."external_id" is not null;--> statement-breakpoint
CREATE INDEX "parties_tenant_created_idx" ON "parties" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE INDEX "parties_tenant_name_idx" ON "parties" USING btree ("tenant_id","display_name","id");--> statement-breakpoint
CREATE INDEX "parties_tenant_kind_idx" ON "parties" USING btree ("tenant_id","kind");--> statement-breakpoint
CREATE INDEX "parties_tenant_stage_idx" ON "parties" USING btree ("tenant_id","stage");--> statement-breakpoint
CREATE INDEX "parties_tenant_owner_idx" ON "parties" USING btree ("tenant_id","owner_id");--> statement-breakpoint
CREATE INDEX "parties_tags_idx" ON "parties" USING gin ("tags");--> statement-breakpoint
CREATE UNIQUE INDEX "relationships_pair_uq" ON "relationships" USING btree ("tenant_id","type",(case when "type" in ('FOLLOWS', 'REFERRED') then "from_party_id" else least("from_party_id", "to_party_id") end),(case when "type" in ('FOLLOWS', 'REFERRED') then "to_party_id" else greatest("from_party_id", "to_party_id") end));--> statement-breakpoint
CREATE INDEX "relationships_from_idx" ON "relationships" USING btree ("tenant_id","from_party_id");--> statement-breakpoint
CREATE INDEX "relationships_to_idx" ON "relationships" USING btree ("tenant_id","to_party_id");--> statement-breakpoint
CREATE UNIQUE INDEX "orders_external_id_uq" ON "orders" USING btree ("tenant_id","external_id") WHERE "orders"."external_id" is not null;--> statement-breakpoint
CREATE INDEX "orders_party_placed_idx" ON "orders" USING btree ("tenant_id","party_id","placed_at");--> statement-breakpoint
CREATE INDEX "orders_tenant_placed_idx" ON "orders" USING btree ("tenant_id","placed_at");--> statement-breakpoint
CREATE INDEX "interactions_party_occurred_idx" ON "interactions" USING btree ("tenant_id","party_id","occurred_at");--> statement-breakpoint
CREATE INDEX "stage_transitions_party_at_idx" ON "stage_transitions" USING btree ("tenant_id","party_id","at");--> statement-breakpoint
CREATE INDEX "stage_transitions_tenant_at_idx" ON "stage_transitions" USING btree ("tenant_id","at");--> statement-breakpoint
CREATE UNIQUE INDEX "referral_codes_code_uq" ON "referral_codes" USING btree ("tenant_id","code");--> statement-breakpoint
CREATE UNIQUE INDEX "referrals_referee_uq" ON "referrals" USING btree ("tenant_id","referee_id");--> statement-breakpoint
CREATE INDEX "referrals_referrer_idx" ON "referrals" USING btree ("tenant_id","referrer_id","created_at");--> statement-breakpoint
CREATE INDEX "referrals_tenant_created_idx" ON "referrals" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "loyalty_snapshots_tenant_day_idx" ON "loyalty_snapshots" USING btree ("tenant_id","as_of","segment");--> statement-breakpoint
CREATE INDEX "scoring_runs_tenant_day_idx" ON "scoring_runs" USING btree ("tenant_id","as_of","started_at");--> statement-breakpoint
CREATE INDEX "webhooks_tenant_idx" ON "webhooks" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "audit_log_tenant_at_idx" ON "audit_log" USING btree ("tenant_id","at","id");