import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** A host name's addresses, in the resolver's order. */
export type ResolveHost = (hostname: string) => Promise<string[]>;

export interface TargetPolicy {
  /**
   * Development and tests only: allow http:// and private or loopback addresses (a test receiver
   * on 127.0.0.1). Never in production: it would let a tenant make the server call internal hosts.
   */
  allowInsecureTargets?: boolean;
  /**
   * How host names are resolved, at creation and when a delivery connects (default: the system
   * resolver). Tests inject one whose answer changes between calls, as a rebinding name's does.
   */
  resolve?: ResolveHost;
}

/** A target refused by the rules below; the worker records it as the attempt's error. */
export class TargetRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetRefusedError';
  }
}

// Addresses a webhook may never reach in production (SSRF): loopback, private, link-local (cloud
// metadata lives at 169.254.169.254), carrier-grade NAT, "this network", multicast and reserved.
const forbidden = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const) {
  forbidden.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
  ['2001:db8::', 32],
] as const) {
  forbidden.addSubnet(network, prefix, 'ipv6');
}

/** Whether an address is one a webhook may not target (IPv4-mapped IPv6 checked as IPv4). */
export function isForbiddenAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return forbidden.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return forbidden.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

const systemResolve: ResolveHost = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((answer) => answer.address);

const forbiddenTarget = 'URL must not target a private, loopback or link-local address';

/**
 * Why a URL may not receive webhooks judging by the URL alone (scheme, credentials, a literal
 * address), or null. A literal address needs no resolver, so this is the whole check for it.
 */
export function refuseUrl(url: string, policy: TargetPolicy = {}): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'URL is not a valid absolute URL';
  }
  if (parsed.username || parsed.password) return 'URL must not contain credentials';
  if (policy.allowInsecureTargets) {
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? null : 'URL must be http(s)';
  }
  if (parsed.protocol !== 'https:') return 'URL must use https';
  const host = hostOf(parsed);
  if (isIP(host) && isForbiddenAddress(host)) return forbiddenTarget;
  return null;
}

/**
 * Why a URL may not receive webhooks, or null when it may: the URL's own rules, then in production
 * its host resolved and EVERY address checked (a name with one public and one private address
 * could otherwise be used to reach the private one). Called at creation, to refuse a bad URL
 * early; a delivery does not rely on it, because DNS answers change: it checks the addresses it
 * connects to (`checkedLookup`).
 */
export async function refuseTarget(url: string, policy: TargetPolicy = {}): Promise<string | null> {
  const refusal = refuseUrl(url, policy);
  if (refusal || policy.allowInsecureTargets) return refusal;
  const host = hostOf(new URL(url));
  if (isIP(host)) return null;
  let addresses: string[];
  try {
    addresses = await (policy.resolve ?? systemResolve)(host);
  } catch {
    return `Host ${host} does not resolve`;
  }
  if (addresses.length === 0) return `Host ${host} does not resolve`;
  return addresses.some(isForbiddenAddress) ? forbiddenTarget : null;
}

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

/**
 * The `lookup` of every connection a delivery opens (net.connect's option, set on the delivery
 * client's connector). It resolves the name once, refuses the connection before any socket is
 * opened if an answer is forbidden (in production), and gives the socket exactly the addresses it
 * checked. Closes the DNS-rebinding window: a check that resolves the name, followed by an HTTP
 * client that resolves it again, checks one answer and connects to another (public, then
 * 169.254.169.254).
 */
export function checkedLookup(policy: TargetPolicy = {}): LookupFunction {
  const resolve = policy.resolve ?? systemResolve;
  return (hostname, options, callback) => {
    const wanted = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family || 0;
    const checked = async (): Promise<string[]> => {
      let answer: string[];
      try {
        answer = (await resolve(hostname)).filter((address) => !wanted || isIP(address) === wanted);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new TargetRefusedError(`Host ${hostname} does not resolve${code ? ` (${code})` : ''}`);
      }
      if (answer.length === 0) throw new TargetRefusedError(`Host ${hostname} does not resolve`);
      // The whole answer is judged, not only the address tried first: given several, the socket
      // moves on to the next one when the first does not answer.
      const address = policy.allowInsecureTargets ? undefined : answer.find(isForbiddenAddress);
      if (address) throw new TargetRefusedError(`${hostname} resolves to ${address}: ${forbiddenTarget}`);
      return answer;
    };
    checked().then(
      (addresses) => {
        if (options.all) callback(null, addresses.map((address) => ({ address, family: isIP(address) })));
        else callback(null, addresses[0]!, isIP(addresses[0]!));
      },
      (error: Error) => callback(error, ''),
    );
  };
}
