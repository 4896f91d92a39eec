/**
 * Finds the registry credentials a workload's pods would pull with, as the kubelet does: the pod
 * template's imagePullSecrets, else its ServiceAccount's (`default` when none is named), read from
 * the workload's own namespace; then an optional docker config mounted into the exporter (the
 * nodes' own credentials). Secrets and service accounts are cached briefly and fetched once per
 * cache period however many workloads name them. Secrets are read with @kubernetes/client-node:
 * this module is loaded only by runs that read a cluster (engine.ts loadCluster).
 */
import { stat } from 'node:fs/promises';
import {
  CoreV1Api,
  Observable,
  type ConfigurationOptions,
  type KubeConfig,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
  type V1LocalObjectReference,
  type V1Secret,
} from '@kubernetes/client-node';
import pLimit from 'p-limit';
import type { CredentialLookup, CredentialSource } from './source.js';
import { apiStatus, describeApiError } from '../kubernetes/api.js';
import { ListReader } from '../kubernetes/list-reader.js';
import type { Workload } from '../kubernetes/workloads.js';
import type { Logger } from '../utils/log.js';
import type { RegistryCredential } from '../registry/credentials.js';
import { chainsPerSecretSet, type CredentialChain } from './credential-chain.js';
import { Keyring } from './keyring.js';
import { credentialKeyring, parseSecret, pullSecretNames, readDockerConfigFile } from './secret-keyrings.js';
import { CredentialProviders } from './providers/providers.js';
import { Refreshing } from '../utils/refreshing.js';

/** Secrets change rarely; a minute keeps API load flat and picks up rotations soon enough. */
export const SECRET_CACHE_MS = 60_000;
/** A secret no workload has named for this long is forgotten. */
const SECRET_IDLE_MS = 5 * SECRET_CACHE_MS;
const SECRET_FETCH_CONCURRENCY = 16;
const SERVICE_ACCOUNT_PAGE_SIZE = 500;
/**
 * Pull secrets read for one workload (its own, or its service account's). Real ones name a few; each
 * name is a GET to the API server, and an admission review (or an object) may name 100,000s. Past
 * this, the rest are a credential problem: the images could not be checked, never absent.
 */
export const MAX_PULL_SECRETS = 64;

/** `namespace/name` of each service account that names imagePullSecrets -> those secrets' names. */
type AccountSecrets = Map<string, readonly string[]>;

/** The service accounts' pull secrets for one scrape, and the namespaces ('' for all) whose accounts could not be listed. */
interface Accounts {
  readonly secrets: AccountSecrets;
  readonly problems: ReadonlyMap<string, string>;
}

/** The parts of a ServiceAccount read here, as the API server's JSON has them. */
interface ServiceAccountObject {
  metadata?: { namespace?: string; name?: string };
  imagePullSecrets?: V1LocalObjectReference[];
}

interface SecretCredentials {
  /** Parsed when the secret is read, not per lookup. */
  readonly keyring: Keyring<RegistryCredential>;
  readonly problem?: string;
  /** The secret's type and data as read: a re-read that finds them unchanged keeps this object. */
  readonly source?: string;
}

export interface PullSecretOptions {
  readonly kubeConfig: KubeConfig;
  /** Timeout of one API request: reading a secret, a page of the service-account list (--list-timeout). */
  readonly apiTimeoutMs: number;
  readonly logger: Logger;
  /** Path of a docker config.json used after the pull secrets (like the node's credentials). */
  readonly dockerConfigPath?: string;
  /** Scoped to namespaces: service accounts are listed per namespace, never cluster-wide. */
  readonly namespaced?: boolean;
  /** Credential providers (plugins, clouds), tried after the pull secrets and before the docker config. */
  readonly providers?: CredentialProviders;
  readonly now?: () => number;
}

/**
 * Per-call options that bound a request's time (client-node has no timeout of its own). Here, the
 * only module that calls client-node's API classes: loaded by runs that read a cluster only.
 */
function withTimeout(timeoutMs: number): ConfigurationOptions {
  const middleware: ObservableMiddleware = {
    pre: (context: RequestContext) => {
      context.setSignal(AbortSignal.timeout(timeoutMs));
      return new Observable(Promise.resolve(context));
    },
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}

export class PullSecretCredentials implements CredentialSource {
  private readonly core: CoreV1Api;
  private readonly reader: ListReader;
  /** Read once a minute at most, served stale while re-read; concurrent scrapes share a read. */
  private readonly secrets: Refreshing<string, SecretCredentials>;
  /** By namespace; '' for the one cluster-wide list. */
  private readonly serviceAccounts: Refreshing<string, AccountSecrets>;
  /** Why the service accounts (of a namespace) could not be listed, while no listing ever succeeded. */
  private readonly accountsProblems = new Map<string, string>();
  private readonly limit = pLimit(SECRET_FETCH_CONCURRENCY);
  private nodeKeyring: Keyring<RegistryCredential> = Keyring.empty();
  private nodeConfigMtime = 0;
  /** The chains of the last scrape by the secrets they are made of: kept while those are unchanged. */
  private chains = new Map<string, CredentialChain>();

  constructor(private readonly options: PullSecretOptions) {
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.reader = new ListReader(options.kubeConfig, {
      pageSize: SERVICE_ACCOUNT_PAGE_SIZE,
      requestTimeoutMs: options.apiTimeoutMs,
    });
    const refresh = { freshMs: SECRET_CACHE_MS, now: options.now };
    // Secrets no workload named for a few minutes are forgotten: memory follows the cluster.
    this.secrets = new Refreshing((id: string, previous) => this.limit(() => this.readSecret(id, previous)), { ...refresh, idleMs: SECRET_IDLE_MS });
    this.serviceAccounts = new Refreshing((namespace) => this.readServiceAccounts(namespace), {
      ...refresh,
      onError: (key, error) => {
        const reason = describeApiError(error);
        this.accountsProblems.set(String(key), reason);
        this.options.logger.error('cannot list service accounts for their imagePullSecrets', { namespace: String(key) || undefined, reason });
      },
    });
  }

  async prepare(workloads: readonly Workload[], options?: { readonly aside?: boolean }): Promise<CredentialLookup> {
    await this.refreshNodeConfig();
    const accounts = await this.accounts(workloads);
    this.secrets.prune();

    const secretNames = new Map<Workload, { names: string[]; problem?: string }>();
    const wanted = new Set<string>();
    for (const workload of workloads) {
      const names = this.secretNamesFor(workload, accounts);
      secretNames.set(workload, names);
      for (const name of names.names) wanted.add(`${workload.namespace}/${name}`);
    }
    const loaded = new Map<string, SecretCredentials>();
    await Promise.all([...wanted].map(async (id) => loaded.set(id, await this.secret(id))));

    const { lookup, chains } = chainsPerSecretSet(
      secretNames.keys(),
      (workload) => {
        const names = secretNames.get(workload)!;
        return {
          key: [workload.namespace, names.problem ?? '', ...names.names].join('\n'),
          read: () => {
            const found = names.names.map((name) => loaded.get(`${workload.namespace}/${name}`)).filter((f) => f !== undefined);
            return { keyrings: found.map((f) => f.keyring), problems: [...(names.problem ? [names.problem] : []), ...found.flatMap((f) => (f.problem ? [f.problem] : []))] };
          },
        };
      },
      this.nodeKeyring,
      this.options.providers ?? CredentialProviders.NONE,
      this.chains,
    );
    // A review's few workloads must not make the next scrape rebuild every other chain.
    if (!options?.aside) this.chains = chains;
    return lookup;
  }

  private secretNamesFor(workload: Workload, accounts: Accounts): { names: string[]; problem?: string } {
    const problem = workload.imagePullSecrets.length === 0 ? accounts.problems.get(this.options.namespaced ? workload.namespace : '') : undefined;
    if (problem !== undefined) return { names: [], problem: `cannot read service account ${workload.namespace}/${workload.serviceAccountName}: ${problem}` };
    const names = [...new Set(pullSecretNames(workload, (id) => accounts.secrets.get(id)))];
    if (names.length <= MAX_PULL_SECRETS) return { names };
    return {
      names: names.slice(0, MAX_PULL_SECRETS),
      problem: `${workload.namespace}/${workload.name} names ${names.length} pull secrets; only the first ${MAX_PULL_SECRETS} are read`,
    };
  }

  /**
   * The pull secrets of the service accounts that workloads without their own rely on: one
   * cluster-wide list, or one list per namespace of such workloads when scoped to namespaces. A
   * failed re-list keeps the last good listing.
   */
  private async accounts(workloads: readonly Workload[]): Promise<Accounts> {
    const wanted = new Set<string>();
    for (const workload of workloads) if (workload.imagePullSecrets.length === 0) wanted.add(this.options.namespaced ? workload.namespace : '');
    const secrets: AccountSecrets = new Map();
    const problems = new Map<string, string>();
    await Promise.all(
      [...wanted].map(async (namespace) => {
        const listed = (await this.serviceAccounts.get(namespace))?.value;
        if (listed) for (const [id, names] of listed) secrets.set(id, names);
        else problems.set(namespace, this.accountsProblems.get(namespace) ?? 'not listed yet');
      }),
    );
    return { secrets, problems };
  }

  private async readServiceAccounts(namespace: string): Promise<AccountSecrets> {
    const path = namespace === '' ? '/api/v1/serviceaccounts' : `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts`;
    const listed = await this.reader.list(path, (sa: ServiceAccountObject) => ({
      id: `${sa.metadata?.namespace}/${sa.metadata?.name}`,
      names: (sa.imagePullSecrets ?? []).map((s) => s.name ?? '').filter((n) => n !== ''),
    }));
    // Only accounts that name secrets: the others add nothing, and clusters have many of them.
    const accounts: AccountSecrets = new Map();
    for (const { id, names } of listed) if (names.length > 0) accounts.set(id, names);
    return accounts;
  }

  /** readSecret never rejects: a secret that cannot be read is a problem to report, not an error. */
  private async secret(id: string): Promise<SecretCredentials> {
    return (await this.secrets.get(id))?.value as SecretCredentials;
  }

  private async readSecret(id: string, previous: SecretCredentials | undefined): Promise<SecretCredentials> {
    const [namespace, name] = id.split('/') as [string, string];
    let secret: V1Secret;
    try {
      secret = await this.core.readNamespacedSecret({ name, namespace }, withTimeout(this.options.apiTimeoutMs));
    } catch (error) {
      const status = apiStatus(error);
      const problem =
        status === 404
          ? `pull secret ${id} not found`
          : status === 403
            ? `not allowed to read pull secret ${id} (RBAC)`
            : `cannot read pull secret ${id}: ${describeApiError(error)}`;
      this.options.logger.warn('pull secret unavailable', { secret: id, reason: problem });
      return { keyring: Keyring.empty(), problem };
    }
    const source = JSON.stringify([secret.type, secret.data]);
    if (previous?.source === source) return previous;
    try {
      const keyring = credentialKeyring(parseSecret(secret), `secret:${id}`);
      if (keyring.rejected > 0) {
        this.options.logger.debug('pull secret keys that name no registry are ignored', { secret: id, keys: keyring.rejected });
      }
      return { keyring, source };
    } catch (error) {
      const problem = `pull secret ${id} ${(error as Error).message}`;
      this.options.logger.warn('pull secret malformed', { secret: id, reason: problem });
      return { keyring: Keyring.empty(), problem };
    }
  }

  private async refreshNodeConfig(): Promise<void> {
    const path = this.options.dockerConfigPath;
    if (!path) return;
    try {
      const { mtimeMs } = await stat(path);
      if (mtimeMs === this.nodeConfigMtime) return;
      const { entries } = await readDockerConfigFile(path);
      this.nodeKeyring = credentialKeyring(entries, 'docker-config');
      if (this.nodeKeyring.rejected > 0) {
        this.options.logger.debug('--docker-config keys that name no registry are ignored', { path, keys: this.nodeKeyring.rejected });
      }
      this.nodeConfigMtime = mtimeMs;
    } catch (error) {
      // Keep the last good entries: a half-written file during a secret rotation must not drop them.
      this.options.logger.error('cannot read --docker-config', { path, reason: (error as Error).message });
    }
  }
}
