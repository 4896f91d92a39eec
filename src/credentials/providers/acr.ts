/**
 * Azure Container Registry credentials through Microsoft Entra workload identity (AKS): the
 * webhook mounts a projected ServiceAccount token and sets AZURE_FEDERATED_TOKEN_FILE,
 * AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_AUTHORITY_HOST; @azure/identity's
 * WorkloadIdentityCredential trades that token for an Entra access token for ACR's audience, and the
 * registry's own `/oauth2/exchange` trades that for an ACR refresh token, which the registry takes
 * as the password of the null GUID user (what `az acr login --expose-token` hands out).
 *
 * @azure/identity is imported on first use only: where no image is in ACR it is never loaded.
 * Refresh tokens are cached per registry until shortly before they expire, and concurrent callers
 * for one registry share one exchange.
 */
import { request, type Dispatcher } from 'undici';
import { registryDispatcher } from '../../registry/transport.js';
import type { TokenCredential, WorkloadIdentityCredentialOptions } from '@azure/identity';
import type { ImageReference } from '../../image/reference.js';
import type { Logger } from '../../utils/log.js';
import { CredentialProviderError, type RegistryCredential } from '../../registry/credentials.js';
import { keyMatches, parseKey, type KeyPattern } from '../matching.js';
import { errorDetail, reachReason } from './endpoint-errors.js';
import type { CredentialProvider } from './providers.js';
import { TokenCache, type Issued } from './token-cache.js';
import { within } from '../../utils/deadline.js';
import { errorCodeOf, readBounded } from '../../utils/untrusted.js';

/** ACR's login servers in the public cloud and the sovereign ones (as the kubelet's Azure provider matches). */
export const ACR_REGISTRY_PATTERNS: readonly string[] = ['*.azurecr.io', '*.azurecr.cn', '*.azurecr.de', '*.azurecr.us'];
/** The user name ACR takes a refresh token with. */
export const ACR_USERNAME = '00000000-0000-0000-0000-000000000000';
/**
 * ACR's own audience: accepted by every registry, whereas Azure Resource Manager tokens are refused
 * by those whose `authentication-as-arm` policy is disabled. The same in every cloud.
 */
export const ACR_SCOPE = 'https://containerregistry.azure.net/.default';

/** ACR refresh tokens last three hours; assumed when the token's `exp` cannot be read. */
const DEFAULT_LIFETIME_MS = 3 * 60 * 60 * 1000;
/** A refresh token is not used in its last five minutes. */
const EXPIRY_MARGIN_MS = 5 * 60 * 1000;
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_RETRY_AFTER_MS = 5_000;
const MAX_BODY_BYTES = 64 * 1024;

const REQUIRED_ENV = ['AZURE_FEDERATED_TOKEN_FILE', 'AZURE_CLIENT_ID', 'AZURE_TENANT_ID'] as const;

export interface AcrProviderOptions {
  readonly logger: Logger;
  /** Where the workload identity webhook's variables are read (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  readonly now?: () => number;
  /** The Entra credential; default @azure/identity's WorkloadIdentityCredential from `env`. */
  readonly credential?: TokenCredential;
  /** More options of the default WorkloadIdentityCredential (tests: trust of a fake authority, no instance discovery, no retries). */
  readonly identityOptions?: WorkloadIdentityCredentialOptions;
  /** Trust for the registry's /oauth2/exchange: PEM CAs besides the system's (--registry-ca-file). */
  readonly extraCaPems?: readonly string[];
  readonly skipCertVerification?: boolean;
  /** Limit on each step: the Entra token, the exchange (default 10 s). */
  readonly timeoutMs?: number;
  /** After a failure, how long callers for that registry get it before asking again (default 5 s). */
  readonly retryFailedAfterMs?: number;
  /** HTTP client of the exchange; default one like the registry transport's (proxies from the environment). */
  readonly dispatcher?: Dispatcher;
}

/** How the exporter runs in Azure with workload identity, or undefined (for --cloud-credentials=auto). */
export function acrEnvironment(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return REQUIRED_ENV.every((name) => Boolean(env[name]?.trim())) ? 'Azure workload identity' : undefined;
}

const ACR_KEYS: readonly KeyPattern[] = ACR_REGISTRY_PATTERNS.map((key) => parseKey(key) as KeyPattern);

/** Is this image in an Azure Container Registry (as the kubelet's provider matches)? */
export function isAcrRegistry(ref: ImageReference): boolean {
  return ACR_KEYS.some((key) => keyMatches(key, ref));
}

/**
 * When a JWT says it expires (ms since epoch), read without verifying it: only to know when to get
 * another. Undefined when it is not a JWT or has no numeric `exp`.
 */
export function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined || payload === '') return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims?.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export function createAcrProvider(options: AcrProviderOptions): CredentialProvider {
  const { logger } = options;
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const retryAfterMs = options.retryFailedAfterMs ?? DEFAULT_RETRY_AFTER_MS;
  const tenant = env['AZURE_TENANT_ID']?.trim() || undefined;
  let dispatcher = options.dispatcher;
  let credential: Promise<TokenCredential> | undefined;


  const entraCredential = (): Promise<TokenCredential> => {
    if (options.credential) return Promise.resolve(options.credential);
    credential ??= (async () => {
      const missing = REQUIRED_ENV.filter((name) => !env[name]?.trim());
      if (missing.length > 0) {
        throw new CredentialProviderError(
          `Azure workload identity is not set up: ${missing.join(', ')} not set (is the pod labelled azure.workload.identity/use: "true" and its ServiceAccount annotated with azure.workload.identity/client-id?)`,
        );
      }
      const { WorkloadIdentityCredential } = await import('@azure/identity');
      return new WorkloadIdentityCredential({
        tenantId: env['AZURE_TENANT_ID'],
        clientId: env['AZURE_CLIENT_ID'],
        tokenFilePath: env['AZURE_FEDERATED_TOKEN_FILE'],
        authorityHost: env['AZURE_AUTHORITY_HOST']?.trim() || undefined,
        ...options.identityOptions,
      });
    })();
    // Not set up stays not set up; anything else (an import failing) is tried again next time.
    credential.catch((error: unknown) => {
      if (!(error instanceof CredentialProviderError)) credential = undefined;
    });
    return credential;
  };

  const entraToken = async (): Promise<string> => {
    try {
      const source = await entraCredential();
      // The SDK does not give up on an abort signal everywhere: the timeout is kept here as well.
      const asked = source.getToken(ACR_SCOPE, { abortSignal: AbortSignal.timeout(timeoutMs) });
      const token = await within(asked, timeoutMs, () => new CredentialProviderError(`Microsoft Entra ID gave no token for ACR: no answer within ${timeoutMs / 1000} s`));
      if (!token?.token) throw new CredentialProviderError('Microsoft Entra ID gave no access token for ACR');
      return token.token;
    } catch (error) {
      if (error instanceof CredentialProviderError) throw error;
      throw new CredentialProviderError(`Microsoft Entra ID gave no token for ACR: ${entraReason(error)}`);
    }
  };

  const exchange = async (registry: string): Promise<Issued<string>> => {
    const accessToken = await entraToken();
    const form = new URLSearchParams({ grant_type: 'access_token', service: registry });
    if (tenant) form.set('tenant', tenant);
    form.set('access_token', accessToken);
    dispatcher ??= registryDispatcher({ extraCaPems: options.extraCaPems, skipCertVerification: options.skipCertVerification, requestTimeoutMs: timeoutMs });
    let status: number;
    let body: string;
    try {
      const response = await request(`https://${registry}/oauth2/exchange`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'k8s-image-existence-exporter' },
        body: form.toString(),
        dispatcher,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.statusCode;
      ({ text: body } = await readBounded(response.body, MAX_BODY_BYTES));
    } catch (error) {
      throw new CredentialProviderError(`cannot reach ${registry} to exchange the Entra token: ${reachReason(error, timeoutMs)}`);
    }
    if (status !== 200) {
      throw new CredentialProviderError(`${registry} refused the Entra token in /oauth2/exchange: HTTP ${status}${acrErrorDetail(body)}`);
    }
    let refreshToken: unknown;
    try {
      refreshToken = (JSON.parse(body) as { refresh_token?: unknown } | null)?.refresh_token;
    } catch {
      throw new CredentialProviderError(`${registry} answered /oauth2/exchange with something other than JSON`);
    }
    if (typeof refreshToken !== 'string' || refreshToken === '') {
      throw new CredentialProviderError(`${registry} answered /oauth2/exchange without a refresh_token`);
    }
    const expiry = jwtExpiry(refreshToken) ?? now() + DEFAULT_LIFETIME_MS;
    logger.debug('got an ACR refresh token', { provider: 'acr', registry, expiresInSeconds: Math.round((expiry - now()) / 1000) });
    return { value: refreshToken, refreshAt: expiry - EXPIRY_MARGIN_MS };
  };

  // One refresh token per registry: ACR issues it for the registry it is exchanged at.
  const tokens = new TokenCache<string, string>({
    fetch: exchange,
    retryFailedAfterMs: retryAfterMs,
    unexpected: (registry) => `ACR credentials for ${registry} failed unexpectedly`,
    onFailure: (registry, problem, { changed }) => {
      if (changed) logger.warn('no ACR credentials', { provider: 'acr', registry, reason: problem.message });
    },
    now,
  });

  return {
    name: 'acr',
    matches: isAcrRegistry,
    async credentialFor(ref: ImageReference): Promise<Omit<RegistryCredential, 'id'>> {
      return { username: ACR_USERNAME, password: await tokens.get(ref.registry.toLowerCase()) };
    },
  };
}

/** ACR answers `{"errors":[{"code":"UNAUTHORIZED","message":"…"}]}`, or an OAuth-style error. */
function acrErrorDetail(body: string): string {
  try {
    const parsed = JSON.parse(body) as { errors?: Array<{ code?: unknown; message?: unknown }> } | null;
    const first = Array.isArray(parsed?.errors) ? parsed.errors[0] : undefined;
    if (first && typeof first === 'object') {
      return errorDetail(JSON.stringify({ error: first.code, error_description: first.message }));
    }
  } catch {
    // not JSON: as for any answer
  }
  return errorDetail(body);
}

/** What the Entra errors of a workload identity set up wrong mean. */
const AADSTS_HINTS: Readonly<Record<string, string>> = {
  AADSTS700213: "no federated identity credential matches the exporter's ServiceAccount (issuer and subject system:serviceaccount:<namespace>:<name>)",
  AADSTS700211: "no federated identity credential matches the cluster's OIDC issuer",
  AADSTS700016: 'no application with this AZURE_CLIENT_ID in the tenant',
  AADSTS90002: 'no such tenant (AZURE_TENANT_ID)',
  AADSTS700024: 'the ServiceAccount token has expired',
};

/** MSAL's own codes for failures before Entra answered. */
const MSAL_HINTS: Readonly<Record<string, string>> = {
  endpoints_resolution_error: 'the authority (AZURE_AUTHORITY_HOST) could not be reached or did not answer as one',
  network_error: 'the authority (AZURE_AUTHORITY_HOST) could not be reached',
};

/**
 * Why Entra ID gave no token: its error code and AADSTS code (e.g. `invalid_client (AADSTS700213)`,
 * no matching federated identity), the HTTP status, or what kept the request from it. Never the
 * SDK's whole message: that one is long and names files and endpoints.
 */
function entraReason(error: unknown): string {
  const failure = (error ?? {}) as {
    name?: string;
    statusCode?: number;
    errorResponse?: { error?: unknown; errorDescription?: unknown };
    message?: string;
  };
  const message = typeof failure.message === 'string' ? failure.message : '';
  // MSAL's errors reach us as `invalid_client: Error(s): 700213 - … AADSTS700213: …`.
  const given = typeof failure.errorResponse?.error === 'string' ? failure.errorResponse.error : /^([a-z_]{1,64}): /.exec(message)?.[1];
  const code = errorCodeOf(given);
  const description = typeof failure.errorResponse?.errorDescription === 'string' ? failure.errorResponse.errorDescription : '';
  const aadsts = /AADSTS\d+/.exec(description)?.[0] ?? /AADSTS\d+/.exec(message)?.[0];
  const fileError = /^(E[A-Z]+): [^']*'/.exec(message)?.[1];
  if (fileError) return `cannot read the federated token file (AZURE_FEDERATED_TOKEN_FILE): ${fileError}`;
  const parts: string[] = [];
  if (code) parts.push(code);
  if (code && MSAL_HINTS[code]) parts.push(`(${MSAL_HINTS[code]})`);
  if (aadsts) parts.push(`(${aadsts}${AADSTS_HINTS[aadsts] ? `: ${AADSTS_HINTS[aadsts]}` : ''})`);
  if (typeof failure.statusCode === 'number' && failure.statusCode > 0) parts.push(`HTTP ${failure.statusCode}`);
  if (parts.length > 0) return parts.join(' ');
  if (failure.name === 'TimeoutError' || failure.name === 'AbortError') return 'no answer in time';
  if (failure.name === 'CredentialUnavailableError') return 'workload identity unavailable (check AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID)';
  return failure.name && /^\w{1,64}$/.test(failure.name) ? failure.name : 'unexpected error';
}
