/**
 * A cluster-scoped list the exporter needs a recent copy of (nodes, namespaces): listed at most once
 * per maximum age, also when the list fails, served stale while listed anew, and waited for only up
 * to the scrape's deadline. A failure is logged when it starts (or its reason changes) and when it
 * ends, not once a minute.
 */
import type { Logger, LogFields } from '../utils/log.js';
import { Refreshing, type Loaded } from '../utils/refreshing.js';
import { describeApiError } from './api.js';

export interface PeriodicListOptions<T> {
  readonly load: () => Promise<T>;
  readonly maxAgeMs: number;
  readonly logger: Logger;
  /** Logged (error) when listing starts failing. */
  readonly failing: string;
  /** Logged (info) when it lists again after failing, with these fields of the new value. */
  readonly recovered: string;
  readonly describe?: (value: T) => LogFields;
  readonly now?: () => number;
}

export class PeriodicList<T> {
  private readonly list: Refreshing<'list', T>;
  /** Why the last list failed, while it does. */
  private failure: string | undefined;

  constructor(private readonly options: PeriodicListOptions<T>) {
    this.list = new Refreshing(() => this.load(), {
      freshMs: options.maxAgeMs,
      // A list that fails (no RBAC, say) is not tried again on every scrape either.
      holdFailureMs: options.maxAgeMs,
      now: options.now,
      onError: (_key, error) => {
        const reason = describeApiError(error);
        if (reason !== this.failure) options.logger.error(options.failing, { reason });
        this.failure = reason;
      },
    });
  }

  /** The newest listing (a stale one while a new list fails); undefined when none by the deadline. */
  get(deadline: number): Promise<Loaded<T> | undefined> {
    return this.list.get('list', deadline);
  }

  private async load(): Promise<T> {
    const value = await this.options.load();
    if (this.failure !== undefined) this.options.logger.info(this.options.recovered, this.options.describe?.(value));
    this.failure = undefined;
    return value;
  }
}
