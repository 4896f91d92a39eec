/**
 * The one cache of the cloud providers' tokens: a token is reused until it is due for renewal,
 * callers asking at the same time share one fetch, and a failure is handed to every caller for a
 * while instead of asking a failing endpoint again at once. A token that is due but not yet expired
 * stays in use when its renewal fails (where the provider says how long it lasts).
 */
import { CredentialProviderError } from '../../registry/credentials.js';

/** A fetched token: renewed from `refreshAt` on; usable, if renewing fails, until `expiresAt`. */
export interface Issued<T> {
  readonly value: T;
  readonly refreshAt: number;
  readonly expiresAt?: number;
}

export interface TokenCacheOptions<K, T> {
  /** Rejects with CredentialProviderError saying why (anything else is reported as `unexpected`). */
  readonly fetch: (key: K) => Promise<Issued<T>>;
  /** After a failure, how long callers get that failure before the endpoint is asked again. */
  readonly retryFailedAfterMs: number;
  /** Why, in words (never a secret), for a failure that is not a CredentialProviderError. */
  readonly unexpected: (key: K, error: unknown) => string;
  /** A failure; `changed`: its reason differs from the last one; `kept`: the previous token stays in use. */
  readonly onFailure?: (key: K, error: CredentialProviderError, facts: { readonly changed: boolean; readonly kept: boolean }) => void;
  readonly now?: () => number;
}

type Known<T> = { readonly issued: Issued<T> } | { readonly error: CredentialProviderError; readonly at: number };

export class TokenCache<K, T> {
  private readonly known = new Map<K, Known<T>>();
  private readonly fetching = new Map<K, Promise<T>>();
  private readonly now: () => number;
  /** The reason of each key's last failure, to tell a new failure from the same one again. */
  private readonly lastReason = new Map<K, string>();

  constructor(private readonly options: TokenCacheOptions<K, T>) {
    this.now = options.now ?? Date.now;
  }

  get(key: K): Promise<T> {
    const known = this.known.get(key);
    if (known && 'issued' in known && this.now() < known.issued.refreshAt) return Promise.resolve(known.issued.value);
    const running = this.fetching.get(key);
    if (running) return running;
    if (known && 'error' in known && this.now() - known.at < this.options.retryFailedAfterMs) return Promise.reject(known.error);
    const started = this.options.fetch(key).then(
      (issued) => {
        this.known.set(key, { issued });
        this.lastReason.delete(key);
        return issued.value;
      },
      (error: unknown) => this.failed(key, error),
    );
    const shared = started.finally(() => this.fetching.delete(key));
    this.fetching.set(key, shared);
    return shared;
  }

  private failed(key: K, error: unknown): T {
    const failure = error instanceof CredentialProviderError ? error : new CredentialProviderError(this.options.unexpected(key, error));
    const now = this.now();
    const changed = this.lastReason.get(key) !== failure.message;
    this.lastReason.set(key, failure.message);
    const previous = this.known.get(key);
    if (previous && 'issued' in previous && previous.issued.expiresAt !== undefined && now < previous.issued.expiresAt) {
      // The token in hand still works for a while: keep using it, and ask again later.
      const { expiresAt } = previous.issued;
      this.known.set(key, { issued: { ...previous.issued, refreshAt: Math.min(now + this.options.retryFailedAfterMs, expiresAt) } });
      this.options.onFailure?.(key, failure, { changed, kept: true });
      return previous.issued.value;
    }
    this.known.set(key, { error: failure, at: now });
    this.options.onFailure?.(key, failure, { changed, kept: false });
    throw failure;
  }
}
