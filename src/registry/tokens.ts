/** Bearer token exchange (the distribution token protocol) and a cache of tokens until they expire. */
import type { Challenge } from './challenge.js';
import { basicAuthorization, type RegistryCredential } from './credentials.js';
import { classifyTransportError, type Classification } from './status.js';
import type { Transport } from './transport.js';
import { boundedText, MAX_CODE_CHARS, MAX_SECRET_CHARS } from '../utils/untrusted.js';

/** Raised when no token could be had; carries the status to report (never `absent`). */
export class TokenError extends Error {
  constructor(readonly classification: Classification) {
    super(classification.detail);
    this.name = 'TokenError';
  }
}

/** Tokens answer with `expires_in`; the spec's default when it is missing is 60 s. */
const DEFAULT_EXPIRES_IN_S = 60;
export const DEFAULT_TOKEN_LIFETIME_MS = DEFAULT_EXPIRES_IN_S * 1000;

/**
 * Cache key of a token: host, scope and the credential's id — never its content, so a token got
 * with one credential is never used for another and no secret sits in a key.
 */
export function tokenCacheKey(host: string, scope: string, credential: RegistryCredential | undefined): string {
  return `${host}\n${scope}\n${credential?.id ?? 'anonymous'}`;
}

/**
 * A token is kept at most this long whatever `expires_in` says (a huge number, or 1e400, which JSON
 * reads as Infinity): each is up to MAX_SECRET_CHARS per repository and identity, and what is kept
 * must follow the images referenced lately, not every repository ever asked. Real ones last 5 to 60
 * minutes.
 */
export const MAX_TOKEN_LIFETIME_S = 60 * 60;

/** How long to reuse a token: renewed a little early so it never expires between lookup and use. */
export function tokenLifetimeMs(expiresInS: number): number {
  const lifetime = Math.min(expiresInS, MAX_TOKEN_LIFETIME_S);
  const margin = Math.min(10, lifetime / 10);
  return (lifetime - margin) * 1000;
}

interface TokenAnswer {
  token?: unknown;
  access_token?: unknown;
  expires_in?: unknown;
}

/**
 * Asks the challenge's realm for a pull token. Credentials go along only when `mayCarryCredentials`
 * allows the realm's URL (HTTPS, or plain HTTP the operator explicitly allowed).
 */
export async function requestToken(
  transport: Pick<Transport, 'send'>,
  challenge: Challenge,
  scope: string,
  credential: RegistryCredential | undefined,
  mayCarryCredentials: (url: URL) => boolean,
): Promise<{ token: string; expiresInS: number }> {
  const realm = challenge.params.realm;
  let url: URL;
  try {
    url = new URL(realm ?? '');
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('scheme');
  } catch {
    throw new TokenError({ status: 'unknown_error', detail: 'registry sent a Bearer challenge without a usable realm' });
  }
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
  // The realm is the registry's to choose: its host is quoted bounded.
  const service = boundedText(url.host, MAX_CODE_CHARS);
  url.searchParams.set('scope', scope);
  const headers: Record<string, string> = {};
  if (credential) {
    if (!mayCarryCredentials(url)) {
      throw new TokenError({
        status: 'auth_failure',
        detail: `refusing to send credentials over plain HTTP to token service ${service} (see --allow-plain-http)`,
      });
    }
    headers.authorization = basicAuthorization(credential);
  }
  let answer;
  try {
    answer = await transport.send('GET', url, headers, true);
  } catch (error) {
    const { status, detail } = classifyTransportError(error);
    throw new TokenError({ status, detail: `token service ${service}: ${detail}` });
  }
  if (answer.status === 401 || answer.status === 403) {
    throw new TokenError({
      status: 'auth_failure',
      detail: `token service ${service} rejected the ${credential ? 'credentials' : 'anonymous request'} (HTTP ${answer.status})`,
    });
  }
  if (answer.status === 429) {
    throw new TokenError({ status: 'rate_limited', detail: `token service ${service} rate limit (HTTP 429)` });
  }
  if (answer.status !== 200) {
    throw new TokenError({
      status: answer.status >= 500 ? 'registry_unavailable' : 'unknown_error',
      detail: `token service ${service} answered HTTP ${answer.status}`,
    });
  }
  let parsed: TokenAnswer;
  try {
    parsed = JSON.parse(answer.body) as TokenAnswer;
  } catch {
    throw new TokenError({ status: 'unknown_error', detail: `token service ${service} answered something that is not JSON` });
  }
  const token = typeof parsed?.token === 'string' && parsed.token ? parsed.token : parsed?.access_token;
  if (typeof token !== 'string' || token === '') {
    throw new TokenError({ status: 'unknown_error', detail: `token service ${service} answered without a token` });
  }
  // Kept per repository and identity while it lasts: one far bigger than any JWT is refused.
  if (token.length > MAX_SECRET_CHARS) {
    throw new TokenError({ status: 'unknown_error', detail: `token service ${service} answered a token longer than ${MAX_SECRET_CHARS} characters` });
  }
  const expiresIn = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_EXPIRES_IN_S;
  return { token, expiresInS: expiresIn };
}
