import type { RequestInit, Response } from 'undici';
import { checkedLookup, type TargetPolicy } from './targets';

export interface DeliveryClient {
  post(url: string, init: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/**
 * The HTTP client of one delivery run: every connection it opens resolves its host through
 * `checkedLookup`, so the address checked is the address connected to (no DNS-rebinding window
 * between a check and the send). undici's own fetch, not the global one: a dispatcher has to come
 * from the same undici as the fetch that drives it, and Node 20 and 22 bundle undici 6, Node 24
 * undici 7.
 */
export async function createDeliveryClient(policy: TargetPolicy): Promise<DeliveryClient> {
  // Loaded when a run starts, not when the module is: the API's bundle reaches this file through
  // the webhooks index, and evaluating undici there would cost every cold start.
  const { Agent, fetch } = await import('undici');
  const agent = new Agent({ connect: { lookup: checkedLookup(policy) } });
  return {
    post: (url, init) => fetch(url, { ...init, dispatcher: agent }),
    close: () => agent.close(),
  };
}
