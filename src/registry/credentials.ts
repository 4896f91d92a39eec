/** A username/password pair for one registry, as found in a pull secret or docker config. */
export interface RegistryCredential {
  readonly username: string;
  readonly password: string;
  /**
   * Stable, non-secret identity (e.g. `secret:ns/name#key` or a hash): used in cache keys and logs
   * so that results and tokens obtained with one credential are never reused for another.
   */
  readonly id: string;
}

export function basicAuthorization(credential: RegistryCredential): string {
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;
}

/**
 * Credentials a provider gets when they are first needed (a kubelet credential-provider plugin, a
 * cloud's token service), for the images it matches. The id is stable, so results and tokens are
 * cached by it as for any credential; the secret is asked of the provider at each use (it caches).
 */
export interface ProvidedCredential {
  readonly id: string;
  /** Rejects with CredentialProviderError when the provider cannot give credentials. */
  resolve(): Promise<Omit<RegistryCredential, 'id'>>;
}

/** What a node may pull with: credentials it holds, or ones a provider hands out. */
export type PullCredential = RegistryCredential | ProvidedCredential;

/** A credential provider failed (its message says why, and holds no secret). */
export class CredentialProviderError extends Error {
  override readonly name = 'CredentialProviderError';
}

/** The username and password to send now; a provider's failure as a problem to report. */
export async function resolveCredential(credential: PullCredential): Promise<{ credential: RegistryCredential } | { problem: string }> {
  if (!('resolve' in credential)) return { credential };
  try {
    const { username, password } = await credential.resolve();
    return { credential: { id: credential.id, username, password } };
  } catch (error) {
    if (error instanceof CredentialProviderError) return { problem: error.message };
    return { problem: `credential provider ${credential.id} failed unexpectedly` };
  }
}
