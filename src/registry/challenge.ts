/** Parsing of `WWW-Authenticate` challenges (RFC 7235 auth-params). Pure. */

export interface Challenge {
  /** Lower-cased scheme: `bearer`, `basic`, … */
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

/** Parses one or more challenges; unknown syntax yields what could be read, never throws. */
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
      current.params[name.toLowerCase()] = value;
      rest = tail;
    } else {
      current = { scheme: name.toLowerCase(), params: {} };
      challenges.push(current);
      rest = after;
    }
  }
  return challenges;
}
