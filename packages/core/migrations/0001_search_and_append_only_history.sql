-- Free-text search over name, email, company and phone (`parties(filter: { search })`) with a
-- trigram index, so a substring match does not scan the tenant's whole book.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION guanxi_party_search_text(display_name text, email text, company text, phone text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT lower(display_name || ' ' || coalesce(email, '') || ' ' || coalesce(company, '') || ' ' || coalesce(phone, ''))
$$;
--> statement-breakpoint
CREATE INDEX "parties_search_trgm_idx" ON "parties" USING gin (guanxi_party_search_text("display_name", "email", "company", "phone") gin_trgm_ops);
--> statement-breakpoint
-- domain: stage history is never rewritten. The database refuses it, whatever the code does.
CREATE OR REPLACE FUNCTION guanxi_refuse_history_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'stage history is append-only: % on stage_transitions refused', TG_OP
    USING ERRCODE = 'restrict_violation';
END
$$;
--> statement-breakpoint
CREATE TRIGGER stage_transitions_append_only
  BEFORE UPDATE OR DELETE ON "stage_transitions"
  FOR EACH ROW EXECUTE FUNCTION guanxi_refuse_history_rewrite();
