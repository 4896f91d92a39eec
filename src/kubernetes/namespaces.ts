/**
 * Which namespaces the exporter looks at: all of them (cluster-wide lists), the ones --namespace
 * names, or those whose labels match --namespace-selector, listed at most once a minute (also when
 * the list fails), served stale while listed anew, and waited for only up to the scrape's deadline.
 */
import type { Logger } from '../utils/log.js';
import { isRecord } from '../utils/untrusted.js';
import type { LabelSelector } from './label-selector.js';
import type { ListReader } from './list-reader.js';
import { PeriodicList } from './periodic-list.js';

export type NamespaceScope =
  | { readonly all: true }
  | { readonly names: readonly string[] }
  | { readonly selector: LabelSelector };

/** The namespaces in scope for one scrape. */
export type ScopeNow =
  | { readonly all: true }
  | {
      readonly all: false;
      readonly names: readonly string[];
      /** False while the selector's namespaces cannot be listed (`names` are then the last listed, if any). */
      readonly up: boolean;
    };

export const ALL_NAMESPACES: ScopeNow = { all: true };

/** A namespace name: a DNS-1123 label. */
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The scope of the namespaces --namespace names: de-duplicated and sorted. Throws the problem, for the flag's error. */
export function parseNamespaceNames(names: readonly string[]): NamespaceScope {
  if (names.length === 0) throw new Error('names no namespace');
  const bad = names.find((name) => !NAMESPACE_NAME.test(name));
  if (bad !== undefined) throw new Error(`${JSON.stringify(bad.slice(0, 100))} is not a namespace name`);
  return { names: [...new Set(names)].sort() };
}

/** Namespaces are labelled rarely; a minute is soon enough to follow a label change. */
export const NAMESPACES_MAX_AGE_MS = 60_000;

export interface NamespacesOptions {
  readonly scope: NamespaceScope;
  readonly reader: Pick<ListReader, 'list'>;
  readonly logger: Logger;
  readonly now?: () => number;
}

export class Namespaces {
  private readonly selected: PeriodicList<readonly string[]> | undefined;

  constructor(private readonly options: NamespacesOptions) {
    const { scope } = options;
    if (!('selector' in scope)) return;
    this.selected = new PeriodicList<readonly string[]>({
      load: () => this.list(scope.selector),
      maxAgeMs: NAMESPACES_MAX_AGE_MS,
      logger: options.logger,
      failing: 'cannot list namespaces for --namespace-selector',
      recovered: 'namespaces listed again',
      describe: (names) => ({ namespaces: names.length }),
      now: options.now,
    });
  }

  async get(deadline: number): Promise<ScopeNow> {
    const { scope } = this.options;
    if ('all' in scope) return ALL_NAMESPACES;
    if ('names' in scope) return { all: false, names: scope.names, up: true };
    const listed = await this.selected!.get(deadline);
    return { all: false, names: listed?.value ?? [], up: listed !== undefined && !listed.failed };
  }

  private async list(selector: LabelSelector): Promise<readonly string[]> {
    // The server filters; the selector is matched here too, so a server (or proxy) that ignores the
    // parameter cannot widen the scope.
    const query = selector.text === '' ? '' : `?labelSelector=${encodeURIComponent(selector.text)}`;
    const names = await this.options.reader.list(`/api/v1/namespaces${query}`, (namespace: { metadata?: { name?: unknown; labels?: unknown } }) => {
      const name = namespace.metadata?.name;
      const labels = isRecord(namespace.metadata?.labels) ? (namespace.metadata.labels as Record<string, string>) : {};
      return typeof name === 'string' && name !== '' && selector.matches(labels) ? name : undefined;
    });
    return names.sort();
  }
}
