/** Parsing of `WWW-Authenticate` challenges (RFC 7235 auth-params). Pure. */
import { boundedText, MAX_CODE_CHARS, MAX_REASON_CHARS } from '../untrusted.js';

export interface Challenge {
  /** Lower-cased scheme: `bearer`, `basic`, … */
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

/**
 * What is kept of a header the registry controls (up to 64 KiB): registries send one or two
 * challenges of three or four params. Values are cut: a realm (a URL) to a reason's length, the
 * rest (service, scope, error) to a code's.
 */
const MAX_CHALLENGES = 8;
const MAX_PARAMS = 8;

/**
 * Parses one or more challenges; unknown syntax yields what could be read, never throws. Keeps the
 * first MAX_CHALLENGES challenges and MAX_PARAMS params of each, their values bounded.
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
      // A name longer than any param's is none a registry sends: skipped.
      if (key.length <= MAX_CODE_CHARS && (Object.hasOwn(current.params, key) || Object.keys(current.params).length < MAX_PARAMS)) {
        current.params[key] = boundedText(value, key === 'realm' ? MAX_REASON_CHARS : MAX_CODE_CHARS);
      }
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
