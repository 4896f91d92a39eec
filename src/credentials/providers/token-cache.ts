/**
 * The cloud providers' tokens, kept with the one refresh mechanism (utils/refreshing.ts) as tokens
 * need: reused until due for renewal, callers asking at the same time share one fetch and wait for
 * it, a failure is handed to every caller for a while instead of asking a failing endpoint again at
 * once, and a token that is due but not yet expired stays in use when its renewal fails (where the
 * provider says how long it lasts). What is written here is only what a provider's failure means.
 */
import { CredentialProviderError } from '../../registry/credentials.js';
import { Refreshing } from '../../utils/refreshing.js';

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

/** Keys (registries, accounts) are few; a bound all the same, as tenants name the registries. */
const MAX_KEYS = 1_000;

export class TokenCache<K, T> {
  private readonly tokens: Refreshing<K, Issued<T>>;

  constructor(private readonly options: TokenCacheOptions<K, T>) {
    const now = options.now ?? Date.now;
    this.tokens = new Refreshing(
      (key) => options.fetch(key).catch((error: unknown) => Promise.reject(this.providerError(key, error))),
      {
        whenDue: 'wait',
        freshMs: (issued) => issued.refreshAt - now(),
        usableMs: (issued) => (issued.expiresAt ?? issued.refreshAt) - now(),
        holdFailureMs: options.retryFailedAfterMs,
        maxEntries: MAX_KEYS,
        now,
        onError: (key, error, { kept, previousError }) => {
          const failure = error as CredentialProviderError;
          const changed = !(previousError instanceof Error) || previousError.message !== failure.message;
          options.onFailure?.(key, failure, { changed, kept });
        },
      },
    );
  }

  async get(key: K): Promise<T> {
    const token = await this.tokens.get(key);
    if (token) return token.value.value;
    throw this.tokens.failure(key) ?? new CredentialProviderError(this.options.unexpected(key, undefined));
  }

  private providerError(key: K, error: unknown): CredentialProviderError {
    return error instanceof CredentialProviderError ? error : new CredentialProviderError(this.options.unexpected(key, error));
  }
}
