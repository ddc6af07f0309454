import { checkDatabase, type Database } from '@guanxi/core';
import type { Plugin } from 'graphql-yoga';

/**
 * Readiness (`GET /ready`): the database answers within `timeoutMs`. `/health` stays liveness (the
 * process answers), so a load balancer can tell "restart me" from "wait for the database". The
 * answer says only ready or not: the database's error is for the log, not for the world.
 *
 * Our own rather than yoga's `useReadinessCheck`: that one matches every request's URL against a
 * URLPattern (a polyfill on Node), which cost 1.2 % of the server's CPU on the bench's party page
 * (`pnpm bench` (d)); comparing the path yoga has already parsed costs nothing.
 */
export function useReadiness(db: Database, timeoutMs: number): Plugin {
  return {
    onRequest({ url, endResponse }) {
      if (url.pathname !== '/ready') return;
      return checkDatabase(db, timeoutMs).then(({ outcome, ms }) => {
        const ready = outcome === 'ok';
        endResponse(
          Response.json(
            { status: ready ? 'ready' : 'unavailable', database: outcome, ms },
            { status: ready ? 200 : 503, headers: { 'cache-control': 'no-store', ...(ready ? {} : { 'retry-after': '1' }) } },
          ),
        );
      });
    },
  };
}
