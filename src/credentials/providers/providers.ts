/**
 * Credential providers: what hands a node credentials for the images it matches without a pull
 * secret — the kubelet's credential-provider plugins, and the built-in cloud providers (ECR,
 * Artifact Registry, ACR). Matching is pure and immediate; fetching happens when a check first
 * needs the credentials, and each provider caches what it fetched.
 */
import type { ImageReference } from '../../image/reference.js';
import type { ProvidedCredential, RegistryCredential } from '../../registry/credentials.js';

export interface CredentialProvider {
  /** Unique; credentials it gives are known as `provider:<name>`. */
  readonly name: string;
  /** It gives credentials for this image (its registry and path). */
  matches(ref: ImageReference): boolean;
  /** Its credentials for the image now; rejects with CredentialProviderError saying why not. */
  credentialFor(ref: ImageReference): Promise<Omit<RegistryCredential, 'id'>>;
}

/** The providers in their configured order (the kubelet tries earlier ones first). */
export class CredentialProviders {
  static readonly NONE = new CredentialProviders([]);

  constructor(readonly providers: readonly CredentialProvider[]) {}

  get size(): number {
    return this.providers.length;
  }

  /** The credentials of every provider that matches the image, to be fetched when used. */
  for(ref: ImageReference): ProvidedCredential[] {
    const found: ProvidedCredential[] = [];
    for (const provider of this.providers) {
      if (provider.matches(ref)) found.push({ id: `provider:${provider.name}`, resolve: () => provider.credentialFor(ref) });
    }
    return found;
  }
}
