CREATE TABLE "referral_subtree_sizes" (
	"tenant_id" uuid NOT NULL,
	"party_id" uuid NOT NULL,
	"descendants" integer NOT NULL,
	CONSTRAINT "referral_subtree_sizes_tenant_id_party_id_pk" PRIMARY KEY("tenant_id","party_id"),
	CONSTRAINT "referral_subtree_sizes_positive" CHECK ("referral_subtree_sizes"."descendants" > 0)
);
--> statement-breakpoint
ALTER TABLE "referral_subtree_sizes" ADD CONSTRAINT "referral_subtree_sizes_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "referral_subtree_sizes_rank_idx" ON "referral_subtree_sizes" USING btree ("tenant_id","descendants" DESC NULLS LAST,"party_id");--> statement-breakpoint
CREATE INDEX "referrals_flagged_idx" ON "referrals" USING btree ("tenant_id","created_at","id") WHERE "referrals"."fraud_signals" <> '[]'::jsonb;--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON "referral_subtree_sizes" TO guanxi_app;
--> statement-breakpoint
ALTER TABLE "referral_subtree_sizes" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "referral_subtree_sizes" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "referral_subtree_sizes" USING ("tenant_id" = guanxi_current_tenant()) WITH CHECK ("tenant_id" = guanxi_current_tenant());
--> statement-breakpoint
-- Subtree sizes follow every change of the referral forest (domain §3: a referee has at most one
-- referrer and the graph is acyclic, so it is a forest).
--
-- New referrals (one statement, any number of rows): each new referral P→R hangs R's whole tree
-- under P. R had no referrer until now (one per referee), so that tree is R plus its
-- descendants(R), a count not yet touched by this statement; P and every ancestor of P in the
-- final forest gain exactly 1 + descendants(R). Summed over the new rows this is exact even when
-- one statement inserts a referral and its parent's, in any order (the seed, a benchmark).
-- A walk that meets R again has found a cycle: refused, whatever wrote the rows.
-- Each step up is an index lookup (LATERAL … LIMIT 1 on referrals_referee_uq) whatever the
-- table's statistics say: a bulk insert into a table not yet analysed would otherwise be planned
-- as a hash of the whole table per step, and the cost grows with the walk, not the table.
CREATE FUNCTION guanxi_referrals_add_subtrees() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  cycle_at uuid;
BEGIN
  WITH RECURSIVE up AS (
    SELECT n.tenant_id, n.referee_id, n.referrer_id AS ancestor, 1 + coalesce(s.descendants, 0) AS amount, 1 AS steps
    FROM inserted_referrals n
    LEFT JOIN referral_subtree_sizes s ON s.tenant_id = n.tenant_id AND s.party_id = n.referee_id
    UNION ALL
    SELECT up.tenant_id, up.referee_id, r.referrer_id, up.amount, up.steps + 1
    FROM up CROSS JOIN LATERAL (
      SELECT f.referrer_id FROM referrals f WHERE f.tenant_id = up.tenant_id AND f.referee_id = up.ancestor LIMIT 1
    ) r
    WHERE up.ancestor <> up.referee_id AND up.steps < 1000000
  ),
  cycles AS (SELECT referee_id FROM up WHERE ancestor = referee_id LIMIT 1),
  counted AS (
    INSERT INTO referral_subtree_sizes AS s (tenant_id, party_id, descendants)
    SELECT tenant_id, ancestor, sum(amount)::int FROM up
    WHERE NOT EXISTS (SELECT 1 FROM cycles)
    GROUP BY tenant_id, ancestor
    ON CONFLICT (tenant_id, party_id) DO UPDATE SET descendants = s.descendants + excluded.descendants
  )
  SELECT referee_id INTO cycle_at FROM cycles;
  IF cycle_at IS NOT NULL THEN
    RAISE EXCEPTION 'referral cycle through party %', cycle_at USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "referrals_add_subtrees" AFTER INSERT ON "referrals"
  REFERENCING NEW TABLE AS inserted_referrals FOR EACH STATEMENT EXECUTE FUNCTION guanxi_referrals_add_subtrees();
--> statement-breakpoint
-- A referral deleted, or re-pointed (a merge moving it to another party), row by row: a BEFORE
-- trigger sees the rows this statement already changed and not the others, and the counts match
-- exactly what it sees, so each row is one consistent step. The old P→R takes R's tree
-- (1 + descendants(R)) away from P and P's ancestors; a re-pointed row then adds the new R's tree
-- to the new P and its ancestors, walking past the row's own old version.
CREATE FUNCTION guanxi_referrals_move_subtree() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  amount int;
  cycle_at uuid;
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.referrer_id = NEW.referrer_id AND OLD.referee_id = NEW.referee_id THEN
    RETURN NEW;
  END IF;
  SELECT 1 + coalesce((SELECT descendants FROM referral_subtree_sizes
    WHERE tenant_id = OLD.tenant_id AND party_id = OLD.referee_id), 0) INTO amount;
  WITH RECURSIVE up AS (
    SELECT OLD.referrer_id AS ancestor, 1 AS steps
    UNION ALL
    SELECT r.referrer_id, up.steps + 1
    FROM up CROSS JOIN LATERAL (
      SELECT f.referrer_id FROM referrals f
      WHERE f.tenant_id = OLD.tenant_id AND f.referee_id = up.ancestor AND f.id <> OLD.id LIMIT 1
    ) r
    WHERE up.steps < 1000000
  ),
  emptied AS (
    DELETE FROM referral_subtree_sizes s USING up
    WHERE s.tenant_id = OLD.tenant_id AND s.party_id = up.ancestor AND s.descendants <= amount
  )
  UPDATE referral_subtree_sizes s SET descendants = s.descendants - amount FROM up
  WHERE s.tenant_id = OLD.tenant_id AND s.party_id = up.ancestor AND s.descendants > amount;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  SELECT 1 + coalesce((SELECT descendants FROM referral_subtree_sizes
    WHERE tenant_id = NEW.tenant_id AND party_id = NEW.referee_id), 0) INTO amount;
  WITH RECURSIVE up AS (
    SELECT NEW.referrer_id AS ancestor, 1 AS steps
    UNION ALL
    SELECT r.referrer_id, up.steps + 1
    FROM up CROSS JOIN LATERAL (
      SELECT f.referrer_id FROM referrals f
      WHERE f.tenant_id = NEW.tenant_id AND f.referee_id = up.ancestor AND f.id <> OLD.id LIMIT 1
    ) r
    WHERE up.ancestor <> NEW.referee_id AND up.steps < 1000000
  ),
  cycles AS (SELECT ancestor FROM up WHERE ancestor = NEW.referee_id LIMIT 1),
  counted AS (
    INSERT INTO referral_subtree_sizes AS s (tenant_id, party_id, descendants)
    SELECT NEW.tenant_id, ancestor, amount FROM up WHERE NOT EXISTS (SELECT 1 FROM cycles)
    ON CONFLICT (tenant_id, party_id) DO UPDATE SET descendants = s.descendants + excluded.descendants
  )
  SELECT ancestor INTO cycle_at FROM cycles;
  IF cycle_at IS NOT NULL THEN
    RAISE EXCEPTION 'referral cycle through party %', cycle_at USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "referrals_move_subtree" BEFORE DELETE OR UPDATE OF "referrer_id", "referee_id" ON "referrals"
  FOR EACH ROW EXECUTE FUNCTION guanxi_referrals_move_subtree();
--> statement-breakpoint
CREATE FUNCTION guanxi_referrals_clear_subtrees() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE referral_subtree_sizes;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "referrals_clear_subtrees" AFTER TRUNCATE ON "referrals"
  FOR EACH STATEMENT EXECUTE FUNCTION guanxi_referrals_clear_subtrees();
--> statement-breakpoint
-- Counts for referrals written before this migration, tenant by tenant (row-level security is
-- forced on the owner too, so each tenant is opened as the application would open it).
DO $$
DECLARE
  t uuid;
BEGIN
  PERFORM set_config('app.list_tenants', 'on', true);
  FOR t IN SELECT id FROM tenants LOOP
    PERFORM set_config('app.tenant_id', t::text, true);
    WITH RECURSIVE up AS (
      SELECT r.referrer_id AS ancestor, 1 AS steps FROM referrals r WHERE r.tenant_id = t
      UNION ALL
      SELECT r.referrer_id, up.steps + 1
      FROM up CROSS JOIN LATERAL (
        SELECT f.referrer_id FROM referrals f WHERE f.tenant_id = t AND f.referee_id = up.ancestor LIMIT 1
      ) r
      WHERE up.steps < 1000000
    )
    INSERT INTO referral_subtree_sizes (tenant_id, party_id, descendants)
    SELECT t, ancestor, count(*)::int FROM up GROUP BY ancestor;
  END LOOP;
  PERFORM set_config('app.tenant_id', '', true);
  PERFORM set_config('app.list_tenants', '', true);
END
$$;
