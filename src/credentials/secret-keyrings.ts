/**
 * What a node makes of its credentials, without asking a cluster: which pull secrets a workload's
 * pods use, and the keyring of a pull secret or of a docker config file. Shared by the cluster's
 * pull secrets (pull-secrets.ts) and `check`'s manifests, which must not load the Kubernetes client.
 */
import { readFile } from 'node:fs/promises';
import type { V1Secret } from '@kubernetes/client-node';
import type { Workload } from '../kubernetes/workloads.js';
import type { RegistryCredential } from '../registry/credentials.js';
import { DockerConfigError, namesCredentialHelpers, parseDockerConfig, type DockerConfigEntry } from './docker-config.js';
import { Keyring } from './keyring.js';

/** A docker config file as read: its entries, and whether it names credential helpers too. */
export interface DockerConfigFile {
  readonly entries: DockerConfigEntry[];
  readonly namesHelpers: boolean;
}

/** Reads a docker config file; throws DockerConfigError/IO errors with a message free of secrets. */
export async function readDockerConfigFile(path: string): Promise<DockerConfigFile> {
  const text = await readFile(path, 'utf8');
  try {
    return { entries: parseDockerConfig(text, 'dockerconfigjson'), namesHelpers: namesCredentialHelpers(text) };
  } catch (error) {
    throw new DockerConfigError(`docker config ${path} ${(error as Error).message}`);
  }
}

/**
 * The pull secrets the kubelet uses for a workload's pods: the template's imagePullSecrets, else
 * those of its ServiceAccount (`accountSecrets` of `namespace/name`) in the workload's namespace. A
 * missing service account adds nothing: its pods are not even created.
 */
export function pullSecretNames(workload: Workload, accountSecrets: (id: string) => readonly string[] | undefined): string[] {
  if (workload.imagePullSecrets.length > 0) return [...workload.imagePullSecrets];
  return [...(accountSecrets(`${workload.namespace}/${workload.serviceAccountName}`) ?? [])];
}

/** Credentials of docker config entries, each known by `source#key` (never by its content). */
export function credentialKeyring(entries: readonly DockerConfigEntry[], source: string): Keyring<RegistryCredential> {
  return Keyring.of(entries.map((e) => ({ ...e, id: `${source}#${e.key}` })));
}

/** The docker config entries of a pull secret; throws DockerConfigError naming what is wrong. */
export function parseSecret(secret: Pick<V1Secret, 'type' | 'data'>): DockerConfigEntry[] {
  const type = secret.type ?? '';
  const field = type === 'kubernetes.io/dockerconfigjson' ? '.dockerconfigjson' : type === 'kubernetes.io/dockercfg' ? '.dockercfg' : undefined;
  if (!field) throw new DockerConfigError(`has type "${type}", not kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg`);
  const encoded = secret.data?.[field];
  if (typeof encoded !== 'string') throw new DockerConfigError(`has no ${field} key`);
  const text = Buffer.from(encoded, 'base64').toString('utf8');
  try {
    return parseDockerConfig(text, field === '.dockerconfigjson' ? 'dockerconfigjson' : 'dockercfg');
  } catch (error) {
    throw new DockerConfigError(`${field} ${(error as Error).message}`);
  }
}
