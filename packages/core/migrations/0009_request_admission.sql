-- Rate-limit windows counted over slot rows (rate-limit.sql.ts): a request counted inside its own
-- transaction holds its row until it commits, so one row per window would queue a tenant's requests.
ALTER TABLE "rate_limit_counters" ADD COLUMN "slot" smallint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "rate_limit_counters" DROP CONSTRAINT "rate_limit_counters_tenant_id_subject_window_start_pk";--> statement-breakpoint
ALTER TABLE "rate_limit_counters" ADD CONSTRAINT "rate_limit_counters_tenant_id_subject_window_start_slot_pk" PRIMARY KEY("tenant_id","subject","window_start","slot");--> statement-breakpoint
-- A request's admission in one statement, inside the request's own transaction (no separate
-- transaction, no round trip per step): switch to the application role, check the credential,
-- count the request against its rate-limit windows and set the tenant for row-level security.
-- SECURITY INVOKER on purpose: each step runs under the role and the policies it would run under
-- if sent alone (the role switch comes first), so these functions grant nothing.
--
-- Counts one request in the tenant's and the caller's window and returns both counts; no row when
-- the tenant does not exist (a validly signed token can name any id: nothing is counted). Under the
-- caller's tenant (app.tenant_id), like every write of the application.
CREATE OR REPLACE FUNCTION guanxi_count_request(p_tenant uuid, p_subject text, p_window_start timestamptz)
RETURNS TABLE (tenant_requests integer, caller_requests integer)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  counted text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = p_tenant) THEN
    RETURN;
  END IF;
  FOREACH counted IN ARRAY ARRAY['tenant', p_subject] LOOP
    -- A slot of this window that no open request holds, else a new one. A new slot number is
    -- random: two requests adding one at once almost never pick the same, and if they do the
    -- second waits for the first to end (never for longer than a request).
    UPDATE rate_limit_counters c SET count = c.count + 1
     WHERE (c.tenant_id, c.subject, c.window_start, c.slot) = (
       SELECT f.tenant_id, f.subject, f.window_start, f.slot FROM rate_limit_counters f
        WHERE f.tenant_id = p_tenant AND f.subject = counted AND f.window_start = p_window_start
        LIMIT 1 FOR UPDATE SKIP LOCKED);
    IF NOT FOUND THEN
      INSERT INTO rate_limit_counters AS c (tenant_id, subject, window_start, slot, count)
      VALUES (p_tenant, counted, p_window_start, floor(random() * 32767)::smallint, 1)
      ON CONFLICT ON CONSTRAINT rate_limit_counters_tenant_id_subject_window_start_slot_pk DO UPDATE SET count = c.count + 1;
    END IF;
  END LOOP;
  -- Committed slots and this request's own; requests still in flight are not seen yet.
  RETURN QUERY
    SELECT (sum(c.count) FILTER (WHERE c.subject = 'tenant'))::integer, (sum(c.count) FILTER (WHERE c.subject = p_subject))::integer
      FROM rate_limit_counters c
     WHERE c.tenant_id = p_tenant AND c.subject IN ('tenant', p_subject) AND c.window_start = p_window_start;
END;
$$;
--> statement-breakpoint
-- The first statement of a request that presents an API key. Looks the key up by the hash of its
-- secret (the only time app.api_key_hash is set, and only for this lookup), refuses a revoked or
-- expired one (no row), sets the key's tenant, refreshes last_used_at when it is older than
-- p_used_before (unless a request in flight is doing so), and with p_window_start counts the
-- request; nothing in it waits for another request of the same tenant or key. The transaction is then the tenant's.
CREATE OR REPLACE FUNCTION guanxi_admit_api_key(p_secret_hash text, p_window_start timestamptz, p_used_before timestamptz)
RETURNS TABLE (tenant_id uuid, key_id uuid, scopes text[], tenant_requests integer, caller_requests integer)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  presented record;
BEGIN
  PERFORM set_config('role', 'guanxi_app', true), set_config('max_parallel_workers_per_gather', '0', true),
          set_config('app.api_key_hash', p_secret_hash, true);
  SELECT k.id, k.tenant_id, k.scopes, k.expires_at, k.last_used_at INTO presented
    FROM api_keys k WHERE k.secret_hash = p_secret_hash AND k.revoked_at IS NULL LIMIT 1;
  -- (presented.id is null when no key matched: PERFORM below resets FOUND.)
  PERFORM set_config('app.api_key_hash', '', true);
  IF presented.id IS NULL OR (presented.expires_at IS NOT NULL AND presented.expires_at <= now()) THEN
    RETURN;
  END IF;
  PERFORM set_config('app.tenant_id', presented.tenant_id::text, true);
  IF presented.last_used_at IS NULL OR presented.last_used_at < p_used_before THEN
    -- The row stays locked until the request commits: a request of the same key that finds it
    -- locked leaves the refresh to that one instead of waiting for it.
    UPDATE api_keys k SET last_used_at = now()
     WHERE (k.tenant_id, k.id) = (
       SELECT l.tenant_id, l.id FROM api_keys l
        WHERE l.tenant_id = presented.tenant_id AND l.id = presented.id
          AND (l.last_used_at IS NULL OR l.last_used_at < p_used_before)
        FOR UPDATE SKIP LOCKED);
  END IF;
  tenant_id := presented.tenant_id;
  key_id := presented.id;
  scopes := presented.scopes;
  IF p_window_start IS NOT NULL THEN
    SELECT r.tenant_requests, r.caller_requests INTO tenant_requests, caller_requests
      FROM guanxi_count_request(presented.tenant_id, 'key:' || presented.id, p_window_start) r;
  END IF;
  RETURN NEXT;
END;
$$;
--> statement-breakpoint
-- The first statement of a request by a signed-in user (the JWT is checked before, without the
-- database): the application role and the token's tenant set, and with p_window_start the request
-- counted. No row when the tenant does not exist.
CREATE OR REPLACE FUNCTION guanxi_admit_user(p_tenant uuid, p_subject text, p_window_start timestamptz)
RETURNS TABLE (tenant_id uuid, tenant_requests integer, caller_requests integer)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM set_config('role', 'guanxi_app', true), set_config('max_parallel_workers_per_gather', '0', true),
          set_config('app.tenant_id', p_tenant::text, true);
  IF p_window_start IS NULL THEN
    RETURN QUERY SELECT t.id, NULL::integer, NULL::integer FROM tenants t WHERE t.id = p_tenant;
  ELSE
    RETURN QUERY
      SELECT p_tenant, r.tenant_requests, r.caller_requests FROM guanxi_count_request(p_tenant, p_subject, p_window_start) r;
  END IF;
END;
$$;
