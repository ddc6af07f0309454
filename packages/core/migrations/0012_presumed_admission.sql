-- The admission of a request whose API key the server already knows (its tenant and key id, kept
-- from an earlier admission in this process): sent in the same round trip as the request's first
-- read (coalesced-begin.ts), so it must stop that read when the key is no longer good. It runs the
-- ordinary admission and raises (SQLSTATE 28000, invalid authorization) unless that admitted the
-- very key presumed: a revoked, expired or unknown key aborts the transaction, and Postgres skips
-- every statement after it. Revocation stays immediate. SECURITY INVOKER, like the admission.
CREATE OR REPLACE FUNCTION guanxi_admit_api_key_as(p_secret_hash text, p_window_start timestamptz, p_used_before timestamptz, p_tenant uuid, p_key uuid)
RETURNS TABLE (tenant_requests integer, caller_requests integer)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  admitted record;
BEGIN
  SELECT a.tenant_id, a.key_id, a.tenant_requests, a.caller_requests INTO admitted
    FROM guanxi_admit_api_key(p_secret_hash, p_window_start, p_used_before) a;
  IF admitted.key_id IS DISTINCT FROM p_key OR admitted.tenant_id IS DISTINCT FROM p_tenant THEN
    RAISE EXCEPTION 'guanxi: the presumed API key was not admitted' USING ERRCODE = '28000';
  END IF;
  tenant_requests := admitted.tenant_requests;
  caller_requests := admitted.caller_requests;
  RETURN NEXT;
END;
$$;
