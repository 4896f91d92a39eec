/**
 * The built-in Amazon ECR credential provider: what the kubelet's `ecr-credential-provider` plugin
 * does for a node, done with the exporter's own AWS identity. For an image of a private ECR registry
 * (`<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]` and the other partitions) it asks ECR's
 * `GetAuthorizationToken` in the registry's region, through the AWS SDK's default credential chain
 * (IRSA web identity, EKS Pod Identity, environment keys, shared config, instance metadata), and
 * hands out the token as the registry's Basic credentials (`AWS` and the password in the token).
 *
 * The token is valid for every registry the identity can read in that region (ECR no longer scopes
 * it by registry id), so one is fetched per region, reused until 5 minutes before it expires, and
 * shared by concurrent callers. A failure is remembered for 30 s, then asked again.
 *
 * The SDK is loaded on first use only, so a cluster without ECR images pays nothing for it.
 * Public ECR (`public.ecr.aws`) is not matched: its images are pulled anonymously.
 */
import type { ECRClient, GetAuthorizationTokenCommandOutput } from '@aws-sdk/client-ecr';
import type { ImageReference } from '../../image/reference.js';
import type { Logger } from '../../utils/log.js';
import { CredentialProviderError } from '../../registry/credentials.js';
import type { CredentialProvider } from './providers.js';
import { TokenCache } from './token-cache.js';
import { within } from '../../utils/deadline.js';
import { boundedText, redactSecrets } from '../../utils/untrusted.js';

/** Private ECR registry hosts, as the kubelet's ecr-credential-provider recognizes them. */
const ECR_HOST =
  /^(\d{12})\.dkr[.-]ecr(-fips)?\.([a-zA-Z0-9][a-zA-Z0-9-_]*)\.(amazonaws\.(?:com(?:\.cn)?|eu)|on\.(?:aws|amazonwebservices\.com\.cn)|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$/;

/** A token is used until this long before ECR says it expires. */
export const ECR_REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
/** A failure is answered from memory for this long, then ECR is asked again. */
export const ECR_FAILURE_RETRY_MS = 30_000;
/** How long a token without an expiry is reused (ECR's tokens last 12 hours). */
const TOKEN_WITHOUT_EXPIRY_MS = 60 * 60_000;
/** The longest a reason may be, in characters. */
const MAX_REASON = 300;

/** What an ECR registry host says: its account and region. */
export interface EcrRegistry {
  readonly account: string;
  readonly region: string;
  readonly fips: boolean;
}

/**
 * The account and region of a private ECR registry host; undefined otherwise. A host with a port is
 * not ECR's: the kubelet's matchImages (`*.dkr.ecr.*.amazonaws.com`) do not match it either.
 */
export function parseEcrHost(registry: string): EcrRegistry | undefined {
  const match = ECR_HOST.exec(registry);
  if (!match) return undefined;
  return { account: match[1] as string, region: match[3] as string, fips: match[2] !== undefined };
}

export interface EcrProviderOptions {
  readonly logger: Logger;
  readonly now?: () => number;
  /** The ECR client of a region; default: the SDK's ECRClient with its default credential chain. */
  readonly clientFactory?: (region: string) => ECRClient;
  /** Longest wait for one token, all retries of the SDK included; default 30 s. */
  readonly timeoutMs?: number;
}

type Credential = { readonly username: string; readonly password: string };
type Sdk = typeof import('@aws-sdk/client-ecr');
let sdk: Promise<Sdk> | undefined;
/** The SDK, imported once when ECR is first needed. */
function loadSdk(): Promise<Sdk> {
  sdk ??= import('@aws-sdk/client-ecr').catch((error: unknown) => {
    sdk = undefined;
    throw error;
  });
  return sdk;
}

export function createEcrProvider(options: EcrProviderOptions): CredentialProvider {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const clients = new Map<string, Promise<ECRClient>>();

  const clientOf = (region: string): Promise<ECRClient> => {
    let client = clients.get(region);
    if (!client) {
      const factory = options.clientFactory;
      client = factory
        ? Promise.resolve(factory(region))
        : loadSdk().then(
            ({ ECRClient: Client }) =>
              new Client({ region, requestHandler: { connectionTimeout: 5_000, requestTimeout: 10_000, throwOnRequestTimeout: true } }),
          );
      client.catch(() => clients.delete(region));
      clients.set(region, client);
    }
    return client;
  };

  const fetchToken = async (region: string): Promise<{ credential: Credential; expiresAt: number | undefined }> => {
    const client = await clientOf(region);
    const { GetAuthorizationTokenCommand } = await loadSdk();
    // The AWS identity first, so that a failure says which step failed (the SDK memoizes it).
    const identity = (client as { config?: { credentials?: unknown } }).config?.credentials;
    if (typeof identity === 'function') {
      try {
        await (identity as () => Promise<unknown>)();
      } catch (error) {
        const found = ecrEnvironment(process.env);
        const source = found === undefined ? 'the default chain' : found.startsWith('IRSA') ? `${found} via STS AssumeRoleWithWebIdentity` : found;
        throw providerError(`ECR credentials for ${region}: no AWS credentials from ${source}: ${describeError(error)}`);
      }
    }
    // No registryIds: deprecated, and the token is valid for every registry the identity may read.
    let output: GetAuthorizationTokenCommandOutput;
    try {
      output = await client.send(new GetAuthorizationTokenCommand({}));
    } catch (error) {
      throw providerError(`ECR GetAuthorizationToken in ${region} failed: ${describeError(error)}`);
    }
    const data = output.authorizationData?.[0];
    if (!data?.authorizationToken) throw new CredentialProviderError(`ECR GetAuthorizationToken in ${region} returned no authorization token`);
    const decoded = Buffer.from(data.authorizationToken, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new CredentialProviderError(`ECR GetAuthorizationToken in ${region} returned a malformed authorization token`);
    return {
      credential: { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) },
      expiresAt: data.expiresAt instanceof Date ? data.expiresAt.getTime() : undefined,
    };
  };

  const tokens = new TokenCache<string, Credential>({
    fetch: async (region) => {
      const { credential, expiresAt } = await within(fetchToken(region), timeoutMs, () => new CredentialProviderError(`ECR credentials for ${region}: no answer within ${Math.round(timeoutMs / 1000)} s`));
      const until = expiresAt ?? now() + TOKEN_WITHOUT_EXPIRY_MS + ECR_REFRESH_BEFORE_EXPIRY_MS;
      logger.info('ECR authorization token obtained', { region, expiresAt: expiresAt !== undefined ? new Date(expiresAt).toISOString() : undefined });
      return { value: credential, refreshAt: until - ECR_REFRESH_BEFORE_EXPIRY_MS, expiresAt: until };
    },
    retryFailedAfterMs: ECR_FAILURE_RETRY_MS,
    unexpected: (region, error) => providerError(`ECR credentials for ${region}: ${describeError(error)}`).message,
    onFailure: (region, failure, { kept }) =>
      kept
        ? logger.warn('ECR authorization token not renewed; the current one is used until it expires', { region, reason: failure.message })
        : logger.warn('ECR authorization token not obtained', { region, reason: failure.message }),
    now,
  });

  return {
    name: 'ecr',
    matches: (ref: ImageReference) => parseEcrHost(ref.registry) !== undefined,
    credentialFor: async (ref: ImageReference) => {
      const registry = parseEcrHost(ref.registry);
      if (!registry) throw new CredentialProviderError(`${ref.registry} is not an Amazon ECR registry`);
      return tokens.get(registry.region);
    },
  };
}

/** A failure whose message is the reason reported: one line, at most 300 characters. */
function providerError(reason: string): CredentialProviderError {
  return new CredentialProviderError(boundedText(reason, MAX_REASON));
}

/**
 * An SDK error as `<name>: <message>` on one line. The SDK's messages carry ARNs, addresses and
 * request facts, never keys; anything shaped like a JWT, a secret key or a session token is blanked
 * out all the same.
 */
export function describeError(error: unknown): string {
  let text: string;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const name = error.name && error.name !== 'Error' ? error.name : typeof code === 'string' ? code : undefined;
    text = name && !error.message.includes(name) ? `${name}: ${error.message}` : error.message || (name ?? 'Error');
  } else {
    text = String(error);
  }
  return boundedText(redactSecrets(text).replace(/\s+/g, ' ').trim(), MAX_REASON);
}

/**
 * For `--cloud-credentials=auto`: the AWS identity the SDK's default chain would find in this
 * environment, in the chain's order, or undefined. Reads the environment only (no network, no
 * files): an instance role behind the metadata service is not detected.
 */
export function ecrEnvironment(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const set = (name: string) => (env[name] ?? '').trim() !== '';
  if (set('AWS_PROFILE')) return 'AWS_PROFILE';
  if (set('AWS_ACCESS_KEY_ID') && set('AWS_SECRET_ACCESS_KEY')) return 'AWS_ACCESS_KEY_ID';
  if (set('AWS_ROLE_ARN') && set('AWS_WEB_IDENTITY_TOKEN_FILE')) return 'IRSA (AWS_ROLE_ARN)';
  if (set('AWS_CONTAINER_CREDENTIALS_FULL_URI')) {
    const uri = env['AWS_CONTAINER_CREDENTIALS_FULL_URI'] ?? '';
    // The EKS Pod Identity agent listens on 169.254.170.23 and fd00:ec2::23.
    return /^https?:\/\/(?:169\.254\.170\.23|\[fd00:ec2::23\])(?:[:/]|$)/i.test(uri)
      ? 'EKS Pod Identity'
      : 'container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI)';
  }
  if (set('AWS_CONTAINER_CREDENTIALS_RELATIVE_URI')) return 'ECS task role (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)';
  return undefined;
}
