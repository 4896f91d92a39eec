/**
 * What the pods of workloads sharing one set of pull secrets pull with, for one scrape: the
 * entries of their secrets that match, most specific first, then the credentials of the providers
 * that match (plugins, clouds), then the matching entries of the nodes' docker config
 * (--docker-config), most specific first, as the kubelet merges them. Pure: providers' credentials
 * are fetched only when a check uses them.
 */
import type { CredentialLookup, FoundCredentials, PullCredentials } from './source.js';
import type { ImageReference } from '../image/reference.js';
import type { Workload } from '../kubernetes/workloads.js';
import type { PullCredential, RegistryCredential } from '../registry/credentials.js';
import { CredentialProviders } from './providers/providers.js';
import { matchInOrder, type Keyring } from './keyring.js';
import { targetOf } from './matching.js';

/**
 * More distinct credentials than this for one image are not tried: each costs registry requests on
 * every check, and a tenant's secret can hold thousands of keys that all match.
 */
export const MAX_CREDENTIALS_PER_IMAGE = 8;

/** Keeps the first of identical username/password pairs (they get identical answers), and at most the cap. */
function distinct(credentials: readonly PullCredential[]): { credentials: PullCredential[]; dropped: number } {
  const seen = new Set<string>();
  const kept: PullCredential[] = [];
  let dropped = 0;
  for (const credential of credentials) {
    // A provider's credential is known by its id until it is fetched.
    const content = 'resolve' in credential ? credential.id : `${credential.username}\0${credential.password}`;
    if (seen.has(content)) continue;
    seen.add(content);
    if (kept.length < MAX_CREDENTIALS_PER_IMAGE) kept.push(credential);
    else dropped++;
  }
  return { credentials: kept, dropped };
}

export class CredentialChain implements PullCredentials {
  /**
   * Answers by registry and repository (tag and digest do not matter): thousands of containers
   * naming the same secrets and image cost one match. A chain lives while its secrets are unchanged
   * and named by some workload, so this holds one answer per repository those workloads used
   * meanwhile: repositories, unlike tags, rarely come and go.
   */
  private readonly answers = new Map<string, FoundCredentials>();

  constructor(
    /** The workload's pull secrets, in the order it names them. */
    private readonly secrets: readonly Keyring<RegistryCredential>[],
    private readonly node: Keyring<RegistryCredential>,
    /** Why some of the workload's secrets could not be read, if they could not. */
    private readonly problem?: string,
    private readonly providers: CredentialProviders = CredentialProviders.NONE,
  ) {}

  /** Made of exactly these inputs, so it answers as a new chain of them would. */
  isOf(secrets: readonly Keyring<RegistryCredential>[], node: Keyring<RegistryCredential>, problem: string | undefined, providers = CredentialProviders.NONE): boolean {
    return (
      this.node === node &&
      this.providers === providers &&
      this.problem === problem &&
      this.secrets.length === secrets.length &&
      this.secrets.every((k, i) => k === secrets[i])
    );
  }

  lookup(ref: ImageReference): FoundCredentials {
    // The registry holds no '/', so this key is unambiguous.
    const key = `${ref.registry}/${ref.repository}`;
    let answer = this.answers.get(key);
    if (!answer) {
      const target = targetOf(ref);
      const { credentials, dropped } = distinct([...matchInOrder(this.secrets, target), ...this.providers.for(ref), ...matchInOrder([this.node], target)]);
      // Credentials not tried could have seen the image: absence can then not be proven.
      const problems = [this.problem, dropped > 0 ? `${dropped} more credentials match ${ref.registry} than are tried (${MAX_CREDENTIALS_PER_IMAGE})` : undefined].filter((p) => p !== undefined);
      answer = problems.length === 0 ? { credentials } : { credentials, problem: problems.join('; ') };
      this.answers.set(key, answer);
    }
    return answer;
  }
}

/** A workload's pull secrets as read: their keyrings in the order named, and why some gave none. */
export interface SecretSet {
  readonly keyrings: readonly Keyring<RegistryCredential>[];
  readonly problems: readonly string[];
}

/**
 * One chain per distinct set of secrets, for the exporter's cluster and `check`'s manifests alike:
 * its memo then serves every workload naming that set. `setOf` keys a workload's set and reads it
 * when the key is first met; a chain of `kept` (the last call's `chains`) made of the same parts is
 * reused, answers and all. Workloads not asked about get the docker config and the providers only.
 */
export function chainsPerSecretSet(
  workloads: Iterable<Workload>,
  setOf: (workload: Workload) => { readonly key: string; read(): SecretSet },
  node: Keyring<RegistryCredential>,
  providers: CredentialProviders,
  kept: ReadonlyMap<string, CredentialChain> = new Map(),
): { readonly lookup: CredentialLookup; readonly chains: Map<string, CredentialChain> } {
  const chains = new Map<string, CredentialChain>();
  const chainOf = new Map<Workload, CredentialChain>();
  for (const workload of workloads) {
    const set = setOf(workload);
    let chain = chains.get(set.key);
    if (!chain) {
      const { keyrings, problems } = set.read();
      const problem = problems.length > 0 ? problems.join('; ') : undefined;
      const last = kept.get(set.key);
      chain = last?.isOf(keyrings, node, problem, providers) ? last : new CredentialChain(keyrings, node, problem, providers);
      chains.set(set.key, chain);
    }
    chainOf.set(workload, chain);
  }
  const none = new CredentialChain([], node, undefined, providers);
  return { lookup: (workload) => chainOf.get(workload) ?? none, chains };
}
