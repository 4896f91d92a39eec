/**
 * The credentials of `check`: the pull secrets that appear in the manifests, used only for the
 * workloads that name them (on the template, or through a ServiceAccount of the manifests) in the
 * same namespace, then the CI job's docker config, then anonymous, as a node would.
 */
import type { CredentialLookup, CredentialSource } from '../credentials/source.js';
import { chainsPerSecretSet } from '../credentials/credential-chain.js';
import { Keyring } from '../credentials/keyring.js';
import { CredentialProviders } from '../credentials/providers/providers.js';
import { credentialKeyring, parseSecret, pullSecretNames } from '../credentials/secret-keyrings.js';
import type { Workload } from '../kubernetes/workloads.js';
import type { RegistryCredential } from '../registry/credentials.js';
import type { ManifestSecret, ManifestServiceAccount } from './manifests.js';

/** A pull secret's credentials, or why it gives none. */
type SecretKeyring = { readonly keyring: Keyring<RegistryCredential> } | { readonly problem: string };

export class ManifestCredentials implements CredentialSource {
  private readonly secrets = new Map<string, ManifestSecret>();
  private readonly accounts = new Map<string, readonly string[]>();

  constructor(
    manifests: { readonly secrets: readonly ManifestSecret[]; readonly serviceAccounts: readonly ManifestServiceAccount[] },
    /** The docker config's credentials (the CI job's own), tried after the pull secrets. */
    private readonly node: Keyring<RegistryCredential> = Keyring.empty(),
    /** Credential providers (plugins, clouds), between the two. */
    private readonly providers: CredentialProviders = CredentialProviders.NONE,
  ) {
    // The last of two objects with one name wins, as it would when applied in order.
    for (const secret of manifests.secrets) this.secrets.set(`${secret.namespace}/${secret.name}`, secret);
    for (const account of manifests.serviceAccounts) this.accounts.set(`${account.namespace}/${account.name}`, account.imagePullSecrets);
  }

  async prepare(workloads: readonly Workload[]): Promise<CredentialLookup> {
    const keyrings = new Map<string, SecretKeyring>();
    const keyringOf = (id: string): SecretKeyring => {
      let found = keyrings.get(id);
      if (!found) keyrings.set(id, (found = this.read(id)));
      return found;
    };
    return chainsPerSecretSet(
      workloads,
      (workload) => {
        const ids = pullSecretNames(workload, (id) => this.accounts.get(id)).map((name) => `${workload.namespace}/${name}`);
        return {
          key: ids.join('\n'),
          read: () => {
            const found = ids.map(keyringOf);
            return { keyrings: found.flatMap((f) => ('keyring' in f ? [f.keyring] : [])), problems: found.flatMap((f) => ('problem' in f ? [f.problem] : [])) };
          },
        };
      },
      this.node,
      this.providers,
    ).lookup;
  }

  /** Parses a secret of the manifests; the problem never holds any of its content. */
  private read(id: string): SecretKeyring {
    const secret = this.secrets.get(id);
    // The cluster may well hold it; this run cannot use it, so absence cannot be proven with it.
    if (!secret) return { problem: `pull secret ${displayId(id)} is not in the manifests` };
    try {
      return { keyring: credentialKeyring(parseSecret(secret), `secret:${id}`) };
    } catch (error) {
      return { problem: `pull secret ${displayId(id)} ${(error as Error).message}` };
    }
  }
}

/** `namespace/name`, or the name alone for objects that name no namespace. */
function displayId(id: string): string {
  return id.startsWith('/') ? id.slice(1) : id;
}
