/**
 * The workloads of a cluster as the flags choose them (kinds, custom resources, namespaces,
 * inactive ones or not), listed as the exporter lists them: for the exporter and `check --cluster`.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { ClusterScope } from '../flags/config.js';
import type { CollectorParts } from './engine.js';
import { ListReader } from '../kubernetes/list-reader.js';
import { Namespaces } from '../kubernetes/namespaces.js';
import { customSourceId, WorkloadLister } from '../kubernetes/workloads.js';
import { Listings } from './listings.js';
import type { Logger } from '../utils/log.js';

/** Lists page size: big enough for few round trips, small enough for bounded responses. */
export const LIST_PAGE_SIZE = 500;

export function clusterWorkloads(
  settings: ClusterScope & { readonly listTimeoutMs: number },
  kubeConfig: KubeConfig,
  options: { readonly logger: Logger; readonly now?: () => number; readonly maxAgeMs: number },
): Pick<CollectorParts, 'listings' | 'kinds' | 'skipInactive'> {
  const pages = { pageSize: LIST_PAGE_SIZE, requestTimeoutMs: settings.listTimeoutMs };
  const lister = new WorkloadLister(kubeConfig, { ...pages, customResources: settings.customResources });
  const scope = settings.namespaceScope;
  return {
    listings: new Listings({
      lister,
      namespaces: 'all' in scope ? undefined : new Namespaces({ scope, reader: new ListReader(kubeConfig, pages), logger: options.logger, now: options.now }),
      maxAgeMs: options.maxAgeMs,
      logger: options.logger,
      now: options.now,
    }),
    kinds: [...settings.workloadKinds, ...settings.customResources.map(customSourceId)],
    skipInactive: settings.skipInactiveWorkloads,
  };
}

