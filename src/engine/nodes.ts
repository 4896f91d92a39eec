/**
 * The cluster's nodes as platform checks need them (name, labels, taints, platform), listed at most
 * once a minute (see PeriodicList). Without a listing (no RBAC for nodes, say) there are no platform
 * series at all; that is logged when it starts and when it ends, not once a minute.
 */
import type { ListReader } from '../kubernetes/list-reader.js';
import { PeriodicList } from '../kubernetes/periodic-list.js';
import type { Logger } from '../utils/log.js';
import { nodeFactsOf, type NodeFacts } from '../platform/placement.js';

/** Nodes come and go slowly, and their platform never changes. */
export const NODES_MAX_AGE_MS = 60_000;

export interface NodesOptions {
  readonly reader: Pick<ListReader, 'list'>;
  readonly logger: Logger;
  readonly now?: () => number;
}

export class Nodes {
  private readonly nodes: PeriodicList<readonly NodeFacts[]>;

  constructor(options: NodesOptions) {
    this.nodes = new PeriodicList<readonly NodeFacts[]>({
      load: async () => (await options.reader.list('/api/v1/nodes', (node: object) => nodeFactsOf(node))).filter((n): n is NodeFacts => n !== undefined),
      maxAgeMs: NODES_MAX_AGE_MS,
      logger: options.logger,
      failing: 'cannot list nodes: no platform checks until it can',
      recovered: 'nodes listed again: platform checks resume',
      describe: (nodes) => ({ nodes: nodes.length }),
      now: options.now,
    });
  }

  /** The newest listing of the nodes (a stale one while a new list fails); undefined when none by the deadline. */
  async get(deadline: number): Promise<readonly NodeFacts[] | undefined> {
    return (await this.nodes.get(deadline))?.value;
  }
}
