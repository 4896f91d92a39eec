/**
 * Basic auth against basic_auth_users' bcrypt hashes, as exporter-toolkit does it: an unknown user
 * costs as much as a wrong password (no user enumeration by timing), one bcrypt comparison runs at
 * a time (each is ~50-100 ms of CPU at cost 10), and a successful (user, password) pair is
 * remembered for a while so that a scrape every few seconds does not pay bcrypt each time. The
 * cache holds SHA-256 digests of the pairs, never a password; nothing here logs.
 */
import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** How long a verified (user, password) pair is accepted without bcrypt. */
export const AUTH_CACHE_TTL_MS = 5 * 60_000;
/** Verified pairs remembered at most (the oldest is dropped first). */
export const AUTH_CACHE_MAX = 100;
/** bcrypt uses the first 72 bytes of a password; Go's bcrypt refuses longer ones, and so does this. */
const MAX_PASSWORD_BYTES = 72;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The credentials of an `Authorization: Basic base64(user:password)` header (RFC 7617), or
 * undefined when there is no such header or it is malformed: another scheme, base64 that is not
 * canonical, text that is not UTF-8, or no colon. The password is everything after the first colon.
 */
export function parseBasicAuth(header: string | undefined): Credentials | undefined {
  if (header === undefined) return undefined;
  const match = /^basic +([A-Za-z0-9+/]*={0,2}) *$/i.exec(header);
  if (!match) return undefined;
  const encoded = match[1] as string;
  if (encoded.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(encoded, 'base64');
  // Node skips what it cannot decode: insist that the bytes encode back to exactly what was sent.
  if (bytes.toString('base64') !== encoded) return undefined;
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return undefined;
  }
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

export interface BasicAuthOptions {
  readonly ttlMs?: number;
  readonly maxEntries?: number;
  readonly now?: () => number;
  /** bcrypt's comparison (tests count the calls). */
  readonly compare?: (password: string, hash: string) => Promise<boolean>;
}

/** One set of users (one loaded web config): a reload makes a new one, so the cache starts empty. */
export class BasicAuth {
  private readonly verified = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly compare: (password: string, hash: string) => Promise<boolean>;

  constructor(
    private readonly users: ReadonlyMap<string, string>,
    options: BasicAuthOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? AUTH_CACHE_TTL_MS;
    this.maxEntries = options.maxEntries ?? AUTH_CACHE_MAX;
    this.now = options.now ?? Date.now;
    this.compare = options.compare ?? ((password, hash) => bcrypt.compare(password, hash));
  }

  /** Verified pairs remembered now. */
  get cacheSize(): number {
    return this.verified.size;
  }

  /** Whether the Authorization header names a user with the right password. Never throws. */
  async check(header: string | undefined): Promise<boolean> {
    const credentials = parseBasicAuth(header);
    if (!credentials) return false;
    return this.verify(credentials);
  }

  async verify({ user, password }: Credentials): Promise<boolean> {
    if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return false;
    const key = createHash('sha256').update(JSON.stringify([user, password])).digest('hex');
    if (this.cached(key)) return true;
    const hash = this.users.get(user);
    // An unknown user is compared against a real user's hash all the same, so that it takes as
    // long as a known user with a wrong password; the answer is no either way.
    const against = hash ?? (this.users.values().next().value as string | undefined);
    if (against === undefined) return false;
    const ok = await this.serially(async () => {
      // Another request with the same pair may have been verified while this one waited.
      if (this.cached(key)) return true;
      return this.compare(password, against).catch(() => false);
    });
    if (!ok || hash === undefined) return false;
    this.remember(key);
    return true;
  }

  private cached(key: string): boolean {
    const expires = this.verified.get(key);
    if (expires === undefined) return false;
    if (expires > this.now()) return true;
    this.verified.delete(key);
    return false;
  }

  private remember(key: string): void {
    this.verified.delete(key);
    this.verified.set(key, this.now() + this.ttlMs);
    while (this.verified.size > this.maxEntries) {
      const oldest = this.verified.keys().next().value as string;
      this.verified.delete(oldest);
    }
  }

  /** Runs bcrypt comparisons one at a time: CPU-bound, and a burst of them would starve scrapes. */
  private serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
