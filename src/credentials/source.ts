/**
 * What the engine asks of credentials, owned here so that neither depends on the other's
 * internals: a source prepared once per scrape (or per `check` run) gives each workload the
 * credentials its pods would pull with. Implemented by pull-secrets.ts (the cluster's secrets,
 * service accounts and node config) and check/manifest-credentials.ts (secrets in manifests).
 */
import type { ImageReference } from '../image/reference.js';
import type { Workload } from '../kubernetes/workloads.js';
import type { PullCredential } from '../registry/credentials.js';

/** Finds the credentials a workload's pods would pull an image with (most specific first). */
export interface CredentialSource {
  /**
   * Prepares for one scrape (e.g. reads pull secrets once); returns the lookup for that scrape.
   * `aside`: a few workloads outside the scrapes (an admission review): what the scrapes keep
   * between them is left as it is.
   */
  prepare(workloads: readonly Workload[], options?: { readonly aside?: boolean }): Promise<CredentialLookup>;
}
/**
 * The credentials a workload's pods pull with. Workloads naming the same secrets share one object,
 * kept from scrape to scrape while those secrets are unchanged: what is planned with it is reused.
 */
export type CredentialLookup = (workload: Workload) => PullCredentials;
export interface PullCredentials {
  lookup(ref: ImageReference): FoundCredentials;
}
export interface FoundCredentials {
  readonly credentials: readonly PullCredential[];
  /** A pull secret the workload names could not be read: only "present" then proves anything. */
  readonly problem?: string;
}
