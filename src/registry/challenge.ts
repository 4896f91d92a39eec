/** Parsing of `WWW-Authenticate` challenges (RFC 7235 auth-params). Pure. */
import { boundedText, MAX_CODE_CHARS, MAX_REASON_CHARS } from '../utils/untrusted.js';

export interface Challenge {
  /** Lower-cased scheme: `bearer`, `basic`, … */
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

/**
 * What is kept of a header the registry controls (up to 64 KiB): registries send one or two
 * challenges of three or four params. Only the params the exporter reads are kept, their values
 * cut: a realm (a URL) to a reason's length, the rest (service, scope, error) to a code's. A
 * challenge thus keeps at most 1,600 characters, whatever else the header holds.
 */
const MAX_CHALLENGES = 8;
const KEPT_PARAMS: ReadonlySet<string> = new Set(['realm', 'service', 'scope', 'error']);

/**
 * Parses one or more challenges; unknown syntax yields what could be read, never throws. Keeps the
 * first MAX_CHALLENGES challenges and of each the KEPT_PARAMS, their values bounded.
 */
export function parseChallenges(header: string | undefined): Challenge[] {
  if (!header) return [];
  const challenges: Challenge[] = [];
  let rest = header.trim();
  let current: { scheme: string; params: Record<string, string> } | undefined;
  while (rest.length > 0) {
    rest = rest.replace(/^[\s,]+/, '');
    const name = TOKEN.exec(rest)?.[0];
    if (!name) break;
    const after = rest.slice(name.length).replace(/^\s+/, '');
    if (after.startsWith('=') && current) {
      // auth-param: name=value or name="quoted value"
      let value = '';
      let tail = after.slice(1).replace(/^\s+/, '');
      if (tail.startsWith('"')) {
        let i = 1;
        while (i < tail.length && tail[i] !== '"') {
          if (tail[i] === '\\' && i + 1 < tail.length) i++;
          value += tail[i];
          i++;
        }
        tail = tail.slice(i + 1);
      } else {
        const token = /^[^\s,]*/.exec(tail)?.[0] ?? '';
        value = token;
        tail = tail.slice(token.length);
      }
      const key = name.toLowerCase();
      if (KEPT_PARAMS.has(key)) current.params[key] = boundedText(value, key === 'realm' ? MAX_REASON_CHARS : MAX_CODE_CHARS);
      rest = tail;
    } else {
      if (challenges.length === MAX_CHALLENGES) break;
      current = { scheme: boundedText(name.toLowerCase(), MAX_CODE_CHARS), params: {} };
      challenges.push(current);
      rest = after;
    }
  }
  return challenges;
}

/**
 * What of a registry's challenges is worth keeping between requests (cached per registry host): the
 * first Bearer and the first Basic challenge, the only ones answered; without either, the first
 * challenge's scheme alone (a host that asks for credentials in a way not answered is never taken
 * for one that asks for none).
 */
export function answerableChallenges(challenges: readonly Challenge[]): Challenge[] {
  const bearer = challenges.find((c) => c.scheme === 'bearer');
  const basic = challenges.find((c) => c.scheme === 'basic');
  const kept = [bearer, basic].filter((c): c is Challenge => c !== undefined);
  const [first] = challenges;
  return kept.length === 0 && first ? [{ scheme: first.scheme, params: {} }] : kept;
}
