/**
 * The engine's cluster side, for the exporter and `check --cluster`: the Kubernetes configuration,
 * the workloads of a cluster as the flags choose them (kinds, custom resources, namespaces,
 * inactive ones or not), listed as the exporter lists them, and their pull secrets. It loads
 * @kubernetes/client-node: imported through engine.ts loadCluster, or by the exporter's own
 * modules (which always read a cluster), never by `check` of manifests.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { ClusterScope, EngineSettings } from '../flags/config.js';
import type { CollectorParts } from './engine.js';
import type { CredentialProviders } from '../credentials/providers/providers.js';
import { PullSecretCredentials } from '../credentials/pull-secrets.js';
import { ListReader } from '../kubernetes/list-reader.js';
import { Namespaces } from '../kubernetes/namespaces.js';
import { WorkloadLister } from '../kubernetes/workload-lister.js';
import { customSourceId } from '../kubernetes/workloads.js';
import { Listings } from './listings.js';
import type { Logger } from '../utils/log.js';

export { loadKubeConfig } from '../kubernetes/kubeconfig.js';

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

/**
 * The credentials of a cluster's workloads: their pull secrets, then the providers, then the docker
 * config at `dockerConfigPath` (re-read when it changes). The exporter's, and `check --cluster`'s.
 */
export function clusterCredentials(
  settings: EngineSettings,
  kubeConfig: KubeConfig,
  deps: { readonly logger: Logger; readonly providers?: CredentialProviders; readonly dockerConfigPath?: string; readonly now?: () => number },
): PullSecretCredentials {
  return new PullSecretCredentials({
    kubeConfig,
    // Reading a secret is one Kubernetes API request, like a page of the service-account list read
    // beside it: --list-timeout bounds both. Not --registry-timeout (registries only), and not
    // --scrape-timeout (the exporter's alone): the scrape's deadline, not this, bounds how long a
    // scrape waits for the secrets, and a read it outlives still serves the scrapes after it.
    apiTimeoutMs: settings.listTimeoutMs,
    logger: deps.logger,
    dockerConfigPath: deps.dockerConfigPath,
    namespaced: !('all' in settings.namespaceScope),
    providers: deps.providers,
    now: deps.now,
  });
}
