import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

export interface TargetPolicy {
  /**
   * Development and tests only: allow http:// and private or loopback addresses (a test receiver
   * on 127.0.0.1). Never in production: it would let a tenant make the server call internal hosts.
   */
  allowInsecureTargets?: boolean;
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

/**
 * Why a URL may not receive webhooks, or null when it may. In production the host is resolved and
 * EVERY address checked: a name with one public and one private address could otherwise be used
 * to reach the private one. Called at creation and again before each delivery, because DNS
 * answers change (a name that was public at creation can later point inside the network).
 */
export async function refuseTarget(url: string, policy: TargetPolicy = {}): Promise<string | null> {
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
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
  } catch {
    return `Host ${host} does not resolve`;
  }
  if (addresses.length === 0) return `Host ${host} does not resolve`;
  if (addresses.some(isForbiddenAddress)) return 'URL must not target a private, loopback or link-local address';
  return null;
}
