import { createHmac, timingSafeEqual } from 'node:crypto';
import { DcronError } from '../errors.js';
import { SAFE_SEGMENT } from '../coordination/etcd/keys.js';

/**
 * Authentication of the peer API, which serves run output (often secret) to
 * the other daemons of a cluster. Every request carries
 *
 *   Authorization: Bearer <nodeId>.<timestampMs>.<hex HMAC-SHA256(secret, "<nodeId>.<timestampMs>.<METHOD> <path>")>
 *
 * where path is the request target as sent, query included, so a token
 * cannot be moved to another run or another `after`. Tokens hold no secret
 * and expire, so a captured one only lets its holder repeat the same GET for
 * about a minute; TLS, when configured, stops even that. The secret is
 * required with TLS too: a certificate alone would let any client the CA
 * ever signed read every run.
 */

/** Below this, a secret is guessable offline from one captured token. */
export const MIN_SECRET_BYTES = 32;

/**
 * How far a token's timestamp may be from the verifier's clock. This bounds
 * replay, and it also means that hosts whose clocks differ by more than this
 * cannot call each other's peer API at all: keep clocks synchronized (NTP).
 */
export const MAX_CLOCK_SKEW_MS = 60_000;

export type PeerSecret = string | Buffer;

/** Server side of TLS: its certificate, and the CA that client certificates must chain to, if any. */
export interface PeerServerTls {
  cert: string | Buffer;
  key: string | Buffer;
  /** When set, clients must present a certificate signed by this CA (mutual TLS). */
  clientCa?: string | Buffer;
}

/** Client side of TLS: the CA that peers' certificates chain to, and a client certificate for mutual TLS. */
export interface PeerClientTls {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
}

/** The peer secret is missing or too short; the peer API never runs without one. */
export class PeerSecretError extends DcronError {}

/** A node id that cannot be put in a token (same shape the cluster requires of node ids). */
export class InvalidNodeIdError extends DcronError {
  constructor(readonly nodeId: string) {
    super(`invalid node id '${nodeId}': use letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
}

export type VerifyResult = { ok: true; nodeId: string } | { ok: false; reason: string };

const NODE_ID = SAFE_SEGMENT;
/** nodeId may itself contain dots, so the token is read from the right. */
const TOKEN = /^Bearer (.+)\.(\d{1,16})\.([0-9a-f]{64})$/;

/** Returns the secret as bytes, or throws when it is unusable. */
export function requireSecret(secret: PeerSecret | undefined | null): Buffer {
  if (secret === undefined || secret === null || secret.length === 0) {
    throw new PeerSecretError('the peer API needs a shared secret; it never runs without authentication');
  }
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new PeerSecretError(`the peer secret must be at least ${MIN_SECRET_BYTES} bytes, got ${bytes.length}`);
  }
  return bytes;
}

/** The Authorization header value for one request. */
export function signRequest(secret: Buffer, nodeId: string, method: string, path: string, nowMs: number): string {
  if (!NODE_ID.test(nodeId)) throw new InvalidNodeIdError(nodeId);
  const timestamp = String(Math.trunc(nowMs));
  return `Bearer ${nodeId}.${timestamp}.${mac(secret, nodeId, timestamp, method, path)}`;
}

/**
 * Checks an Authorization header against the request it came with. The
 * signature is checked before the timestamp, so only holders of the secret
 * learn that their clock is off.
 */
export function verifyRequest(secret: Buffer, header: string | undefined, method: string, path: string, nowMs: number): VerifyResult {
  if (header === undefined) return { ok: false, reason: 'missing Authorization header' };
  const match = TOKEN.exec(header);
  if (match === null || !NODE_ID.test(match[1])) return { ok: false, reason: 'malformed peer token' };
  const [, nodeId, timestamp, given] = match;
  const expected = Buffer.from(mac(secret, nodeId, timestamp, method, path), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(given, 'hex'))) {
    return { ok: false, reason: 'bad peer token signature (is the peer secret the same on both hosts?)' };
  }
  const skewMs = nowMs - Number(timestamp);
  if (Math.abs(skewMs) > MAX_CLOCK_SKEW_MS) {
    const direction = skewMs > 0 ? 'behind' : 'ahead of';
    return {
      ok: false,
      reason:
        `peer token from ${nodeId} is ${Math.round(Math.abs(skewMs) / 1000)} s ${direction} this host's clock; ` +
        `peer calls fail when clocks differ by more than ${MAX_CLOCK_SKEW_MS / 1000} s (check NTP on both hosts)`,
    };
  }
  return { ok: true, nodeId };
}

function mac(secret: Buffer, nodeId: string, timestamp: string, method: string, path: string): string {
  return createHmac('sha256', secret).update(`${nodeId}.${timestamp}.${method} ${path}`).digest('hex');
}
