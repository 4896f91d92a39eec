/**
 * The cluster's nodes as platform checks need them (name, labels, taints, platform): listed at most
 * once a minute (also when the list fails), served stale while listed anew, and waited for only up to the scrape's deadline,
 * like the workload lists. Without a listing (no RBAC for nodes, say) there are no platform series
 * at all; that is logged when it starts and when it ends, not once a minute.
 */
import { describeApiError } from './kubernetes/api.js';
import type { ListReader } from './kubernetes/list-reader.js';
import type { Logger } from './log.js';
import { nodeFactsOf, type NodeFacts } from './platform/placement.js';
import { Refreshing } from './refreshing.js';

/** Nodes come and go slowly, and their platform never changes. */
export const NODES_MAX_AGE_MS = 60_000;

export interface NodesOptions {
  readonly reader: Pick<ListReader, 'list'>;
  readonly logger: Logger;
  readonly now?: () => number;
}

export class Nodes {
  private readonly nodes: Refreshing<'all', readonly NodeFacts[]>;
  /** Why the last list failed, while it does. */
  private failing: string | undefined;

  constructor(private readonly options: NodesOptions) {
    this.nodes = new Refreshing(() => this.list(), {
      maxAgeMs: NODES_MAX_AGE_MS,
      // A list that fails (no RBAC for nodes, say) is not tried again on every scrape either.
      retryFailedAfterMs: NODES_MAX_AGE_MS,
      now: options.now,
      onError: (_key, error) => {
        const reason = describeApiError(error);
        if (reason !== this.failing) options.logger.error('cannot list nodes: no platform checks until it can', { reason });
        this.failing = reason;
      },
    });
  }

  /** The newest listing of the nodes (a stale one while a new list fails); undefined when none by the deadline. */
  async get(deadline: number): Promise<readonly NodeFacts[] | undefined> {
    return (await this.nodes.get('all', deadline))?.value;
  }

  private async list(): Promise<readonly NodeFacts[]> {
    const nodes = (await this.options.reader.list('/api/v1/nodes', (node: object) => nodeFactsOf(node))).filter((n): n is NodeFacts => n !== undefined);
    if (this.failing !== undefined) this.options.logger.info('nodes listed again: platform checks resume', { nodes: nodes.length });
    this.failing = undefined;
    return nodes;
  }
}
