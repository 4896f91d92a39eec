/** Files named by flags, read once at start-up; problems are FlagErrors naming the flag. */
import { readFile } from 'node:fs/promises';
import { FlagError } from '../flags/config.js';
import { readDockerConfigFile, type DockerConfigFile } from '../credentials/secret-keyrings.js';
import { createCredentialProviders, type ProviderDeps, type ProviderSettings } from '../credentials/providers/index.js';
import { PluginConfigError } from '../credentials/providers/plugin-config-error.js';
import type { CredentialProviders } from '../credentials/providers/providers.js';
import { pemCertificates } from '../utils/pem-certificates.js';

/** Reads --registry-ca-file bundles; a file that is unreadable or holds no certificate is a flag error. */
export async function readCaFiles(paths: readonly string[]): Promise<string[]> {
  const pems: string[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new FlagError('registry-ca-file', `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const certificates = pemCertificates(text, (problem) => {
      throw new FlagError('registry-ca-file', problem === 'none' ? `${path} contains no PEM certificate` : `${path} contains a certificate that cannot be parsed`);
    });
    for (const { pem } of certificates) pems.push(pem);
  }
  return pems;
}

/**
 * Fails start-up early on an unreadable --docker-config rather than at the first scrape; returns
 * the file as read (undefined without the flag).
 */
export async function checkDockerConfig(path: string | undefined): Promise<DockerConfigFile | undefined> {
  if (!path) return undefined;
  try {
    return await readDockerConfigFile(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ? `cannot read ${path}: ${(error as NodeJS.ErrnoException).code}` : (error as Error).message;
    throw new FlagError('docker-config', reason);
  }
}

/**
 * The credential providers the flags ask for; a plugin configuration that cannot be used is a flag
 * error. Logs which providers are active.
 */
export async function startCredentialProviders(settings: ProviderSettings, deps: ProviderDeps): Promise<CredentialProviders> {
  try {
    const { providers, active } = await createCredentialProviders(settings, deps);
    deps.logger.info('credential providers', { active: active.length > 0 ? active.join('; ') : 'none (pull secrets and --docker-config only)' });
    return providers;
  } catch (error) {
    if (error instanceof PluginConfigError) throw new FlagError('image-credential-provider-config', error.message);
    throw error;
  }
}
