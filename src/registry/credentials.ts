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
