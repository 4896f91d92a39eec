/**
 * Basic auth against basic_auth_users' bcrypt hashes, as exporter-toolkit does it, without letting
 * unauthenticated clients make anyone else wait:
 * - comparisons run on a worker thread (bcrypt-worker.ts), one at a time, never on the event loop;
 * - they wait in a bounded queue (AUTH_QUEUE_MAX), each client (remote address) with at most
 *   AUTH_PER_CLIENT_MAX queued or running; past either bound the answer is "busy" at once (429),
 *   with no comparison;
 * - a client that hangs up before its turn is dropped from the queue, so a burst of requests that
 *   gave up costs nothing;
 * - a verified (user, password) pair is accepted without bcrypt while it is used: it expires
 *   AUTH_CACHE_TTL_MS after its last use (a scrape every few seconds or minutes never pays bcrypt
 *   again, whatever else is queued), at most AUTH_CACHE_MAX pairs, least recently used dropped;
 * - a reload of the web config keeps the verified pairs of users whose hash it did not change
 *   (a certificate rotated, a header or a user added): otherwise every reload made the scraper
 *   queue for bcrypt again, and during a flood it got "busy" until the flood stopped.
 * An unknown user costs as much as a wrong password (no user enumeration by timing). The cache
 * holds HMACs of the pairs under a key made at start (kept across reloads), never a password; nothing here
 * logs. Only a pair that bcrypt verified is ever cached.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { bcryptWorker } from './bcrypt-worker.js';
import { ExpiringMap } from '../../utils/expiring-map.js';

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** How long a verified (user, password) pair is accepted without bcrypt after its last use. */
export const AUTH_CACHE_TTL_MS = 5 * 60_000;
/** Verified pairs remembered at most (the least recently used is dropped first). */
export const AUTH_CACHE_MAX = 100;
/**
 * Comparisons waiting for the worker, at most: at ~50-100 ms each (cost 10), the last one waits
 * about a second or two. Past it, requests that need bcrypt are answered "busy" at once.
 */
export const AUTH_QUEUE_MAX = 16;
/** Comparisons one client (remote address) may have waiting or running. */
export const AUTH_PER_CLIENT_MAX = 2;
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
  readonly queueMax?: number;
  readonly perClientMax?: number;
  readonly now?: () => number;
  /** bcrypt's comparison (default: on the worker thread; tests count the calls). */
  readonly compare?: (password: string, hash: string) => Promise<boolean>;
}

/** `ok`: let in; `denied`: 401; `busy`: too many comparisons waiting, 429 without comparing. */
export type AuthVerdict = 'ok' | 'denied' | 'busy';

/** Who asks: the bounds of the queue are per client, and a client that hung up is not compared for. */
export interface Requester {
  /** The remote address. */
  readonly client?: string;
  /** Aborted when the client hung up. */
  readonly signal?: AbortSignal;
}

interface Job {
  readonly key: string;
  readonly user: string;
  readonly password: string;
  readonly against: string;
  /** The user exists (else the comparison only costs the time a wrong password would). */
  readonly known: boolean;
  readonly client: string | undefined;
  readonly signal: AbortSignal | undefined;
  readonly settle: (verdict: AuthVerdict | Error) => void;
}

/** One set of users (one loaded web config); a reload makes a new one from the previous (see carriedOver). */
export class BasicAuth {
  /** HMAC of a verified pair → whose it is (kept across a reload while that user's hash is unchanged); lives while used. */
  private readonly verified: ExpiringMap<string, string>;
  private hmacKey = randomBytes(32);
  private readonly waiting: Job[] = [];
  private running = false;
  /** Jobs waiting or running, per client. */
  private readonly perClient = new Map<string, number>();
  private readonly queueMax: number;
  private readonly perClientMax: number;
  private readonly compare: (password: string, hash: string) => Promise<boolean>;

  constructor(
    private readonly users: ReadonlyMap<string, string>,
    options: BasicAuthOptions = {},
  ) {
    this.queueMax = options.queueMax ?? AUTH_QUEUE_MAX;
    this.perClientMax = options.perClientMax ?? AUTH_PER_CLIENT_MAX;
    const { ttlMs = AUTH_CACHE_TTL_MS, maxEntries = AUTH_CACHE_MAX, now } = options;
    this.verified = new ExpiringMap({ ttlMs, onRead: 'extend', maxEntries, now });
    this.compare = options.compare ?? ((password, hash) => bcryptWorker().compare(password, hash));
  }

  /**
   * This set of users, keeping the pairs `previous` verified for users whose hash is the same here
   * (a reload that changed nothing about them must not send their scrapers back to bcrypt).
   */
  carriedOver(previous: BasicAuth | undefined): this {
    if (!previous) return this;
    this.hmacKey = previous.hmacKey;
    for (const [key, user, leftMs] of previous.verified.live()) {
      const hash = this.users.get(user);
      if (hash !== undefined && hash === previous.users.get(user)) this.verified.set(key, user, leftMs);
    }
    return this;
  }

  /** Verified pairs remembered now. */
  get cacheSize(): number {
    return this.verified.size;
  }

  /** Comparisons waiting for their turn now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Whether the Authorization header names a user with the right password. Rejects only when the bcrypt worker fails. */
  async check(header: string | undefined, from: Requester = {}): Promise<AuthVerdict> {
    const credentials = parseBasicAuth(header);
    if (!credentials) return 'denied';
    return this.verify(credentials, from);
  }

  async verify({ user, password }: Credentials, from: Requester = {}): Promise<AuthVerdict> {
    if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return 'denied';
    const key = createHmac('sha256', this.hmacKey).update(JSON.stringify([user, password])).digest('hex');
    if (this.cached(key)) return 'ok';
    const hash = this.users.get(user);
    // An unknown user is compared against a real user's hash all the same, so that it takes as
    // long as a known user with a wrong password; the answer is no either way.
    const against = hash ?? (this.users.values().next().value as string | undefined);
    if (against === undefined) return 'denied';
    const { client, signal } = from;
    if (signal?.aborted) return 'denied';
    if (this.waiting.length >= this.queueMax) return 'busy';
    if (client !== undefined && (this.perClient.get(client) ?? 0) >= this.perClientMax) return 'busy';
    const verdict = await new Promise<AuthVerdict | Error>((settle) => {
      const job: Job = { key, user, password, against, known: hash !== undefined, client, signal, settle };
      if (client !== undefined) this.perClient.set(client, (this.perClient.get(client) ?? 0) + 1);
      // Hung up before its turn: out of the queue, no comparison.
      signal?.addEventListener(
        'abort',
        () => {
          const at = this.waiting.indexOf(job);
          if (at < 0) return;
          this.waiting.splice(at, 1);
          this.release(job);
          settle('denied');
        },
        { once: true },
      );
      this.waiting.push(job);
      this.pump();
    });
    if (verdict instanceof Error) throw verdict;
    return verdict;
  }

  /** Whether the pair was verified and is still in use; a use keeps it for another ttlMs. */
  private cached(key: string): boolean {
    return this.verified.get(key) !== undefined;
  }

  private release(job: Job): void {
    if (job.client === undefined) return;
    const left = (this.perClient.get(job.client) ?? 1) - 1;
    if (left > 0) this.perClient.set(job.client, left);
    else this.perClient.delete(job.client);
  }

  /** Starts the next comparison when none is running: one at a time, as the one worker runs them. */
  private pump(): void {
    if (this.running) return;
    const job = this.waiting.shift();
    if (!job) return;
    this.running = true;
    const run = async (): Promise<AuthVerdict> => {
      // Another request with the same pair may have been verified while this one waited.
      if (this.cached(job.key)) return 'ok';
      const ok = await this.compare(job.password, job.against);
      if (!ok || !job.known) return 'denied';
      this.verified.set(job.key, job.user);
      return 'ok';
    };
    run().then(job.settle, (error: unknown) => job.settle(error instanceof Error ? error : new Error(String(error)))).finally(() => {
      this.running = false;
      this.release(job);
      this.pump();
    });
  }
}
