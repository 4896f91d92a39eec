/**
 * The credential providers the flags ask for, made once at start-up: the kubelet's plugins
 * (--image-credential-provider-config/-bin-dir), then the built-in cloud providers
 * (--cloud-credentials: `auto` enables each where its environment is present). Says which are active.
 *
 * What a provider needs is loaded only when it is used: the plugins' modules (and zod) only with
 * --image-credential-provider-config, each cloud's SDK when its provider first fetches a token
 * (ecr.ts, acr.ts), so a run that needs none starts without them.
 */
import type { Logger } from '../../utils/log.js';
import { acrEnvironment, createAcrProvider } from './acr.js';
import type { Cloud, CloudChoice } from './clouds.js';
import { createEcrProvider, ecrEnvironment } from './ecr.js';
import { createGcpProvider, gcpAvailable, metadataHostFrom } from './gcp.js';
import { CredentialProviders, type CredentialProvider } from './providers.js';

export interface ProviderSettings {
  readonly credentialProviderConfig: string | undefined;
  readonly credentialProviderBinDir: string | undefined;
  readonly cloudCredentials: CloudChoice;
  /** Trust for ACR's token exchange: the registry trust settings. */
  readonly skipRegistryCertVerification: boolean;
}

export interface ProviderDeps {
  readonly logger: Logger;
  readonly env?: NodeJS.ProcessEnv;
  readonly registryCaPems?: readonly string[];
}

/** How long `auto` waits for a GCE metadata server at start-up. */
const METADATA_PROBE_MS = 1000;

/** Rejects with PluginConfigError when the plugin configuration cannot be used. */
export async function createCredentialProviders(settings: ProviderSettings, deps: ProviderDeps): Promise<{ providers: CredentialProviders; active: string[] }> {
  const { logger } = deps;
  const env = deps.env ?? process.env;
  const providers: CredentialProvider[] = [];
  const active: string[] = [];
  if (settings.credentialProviderConfig && settings.credentialProviderBinDir) {
    const { loadPluginProviders } = await import('./plugin.js');
    for (const plugin of await loadPluginProviders(settings.credentialProviderConfig, settings.credentialProviderBinDir, { logger })) {
      providers.push(plugin);
      active.push(`plugin ${plugin.name}`);
    }
  }
  const choice = settings.cloudCredentials;
  const wanted = (cloud: Cloud) => choice !== 'none' && (choice === 'auto' || choice.includes(cloud));
  const auto = choice === 'auto';

  // Each where its environment is (auto), or because it was named (then it says so when it fails).
  const aws = ecrEnvironment(env);
  if (wanted('ecr') && (aws || !auto)) {
    providers.push(createEcrProvider({ logger }));
    active.push(`ecr (${aws ?? 'named by --cloud-credentials; no AWS identity found in the environment'})`);
  }
  const metadataHost = metadataHostFrom(env);
  if (wanted('gcp') && (!auto || (await gcpAvailable(metadataHost, METADATA_PROBE_MS)))) {
    providers.push(createGcpProvider({ logger, metadataHost }));
    active.push(`gcp (metadata server ${metadataHost})`);
  }
  const azure = acrEnvironment(env);
  if (wanted('acr') && (azure || !auto)) {
    providers.push(createAcrProvider({ logger, env, extraCaPems: deps.registryCaPems, skipCertVerification: settings.skipRegistryCertVerification }));
    active.push(`acr (${azure ?? 'named by --cloud-credentials; no Azure workload identity found in the environment'})`);
  }
  return { providers: providers.length > 0 ? new CredentialProviders(providers) : CredentialProviders.NONE, active };
}
