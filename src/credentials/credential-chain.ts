/**
 * What the pods of workloads sharing one set of pull secrets pull with, for one scrape: the
 * entries of their secrets that match, most specific first, then the matching entries of the
 * nodes' docker config (--docker-config), most specific first, as the kubelet tries them. Pure.
 */
import type { FoundCredentials } from '../collector.js';
import type { ImageReference } from '../image/reference.js';
import type { RegistryCredential } from '../registry/credentials.js';
import { matchInOrder, type Keyring } from './keyring.js';
import { targetOf } from './matching.js';

export class CredentialChain {
  /**
   * Answers by registry and repository (tag and digest do not matter): thousands of containers
   * naming the same secrets and image cost one match. A chain lives for one scrape, so this holds
   * at most one answer per distinct image of that scrape's workloads.
   */
  private readonly answers = new Map<string, FoundCredentials>();

  constructor(
    /** The workload's pull secrets, in the order it names them. */
    private readonly secrets: readonly Keyring<RegistryCredential>[],
    private readonly node: Keyring<RegistryCredential>,
    /** Why some of the workload's secrets could not be read, if they could not. */
    private readonly problem?: string,
  ) {}

  lookup(ref: ImageReference): FoundCredentials {
    // The registry holds no '/', so this key is unambiguous.
    const key = `${ref.registry}/${ref.repository}`;
    let answer = this.answers.get(key);
    if (!answer) {
      const target = targetOf(ref);
      const credentials = [...matchInOrder(this.secrets, target), ...matchInOrder([this.node], target)];
      answer = this.problem === undefined ? { credentials } : { credentials, problem: this.problem };
      this.answers.set(key, answer);
    }
    return answer;
  }
}
