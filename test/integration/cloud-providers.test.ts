/**
 * The cloud credential providers end to end: a faithful GCE metadata server, a Microsoft Entra
 * authority spoken to by the real @azure/identity (MSAL inside), ACR's /oauth2/exchange in front of
 * a real registry (Debian's docker-registry, TLS with the test PKI, htpasswd), checked through the
 * exporter's own engine. Everything runs on 127.0.0.1; nothing is asked of a real cloud.
 *
 * The registries are on loopback, not on *.gcr.io / *.azurecr.io, so the providers are wrapped to
 * match the loopback host (`onHost`): their own matching is tested in test/unit/cloud-providers.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CheckRequest } from '../../src/engine/image-check.js';
import { parseFlags } from '../../src/flags/config.js';
import { ACR_SCOPE, ACR_USERNAME, createAcrProvider, type AcrProviderOptions } from '../../src/credentials/providers/acr.js';
import { GCP_USERNAME, createGcpProvider, gcpAvailable } from '../../src/credentials/providers/gcp.js';
import { CredentialProviders, type CredentialProvider } from '../../src/credentials/providers/providers.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { parseImageReference } from '../../src/image/reference.js';
import { createLogger } from '../../src/utils/log.js';
import type { CheckResult } from '../../src/registry/status.js';
import { CLIENT_ASSERTION_TYPE, acrExchange, acrRefreshToken, fakeJwt, startFakeEntra, type AcrExchange, type FakeEntra } from '../support/fake-azure.js';
import { TOKEN_PATH, googleLikeToken, startFakeGcp, type FakeGcp } from '../support/fake-gcp.js';
import { createPki, type Pki } from '../support/pki.js';
import { startRecordingProxy, type RecordingProxy } from '../support/proxy.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT_ID = '5c4bcd1a-9e0b-4f6e-8a65-3f2d1e0c9b7a';
const GCP_TOKEN = googleLikeToken();
/** The projected ServiceAccount token (a JWT from the cluster's OIDC issuer). */
const FEDERATED = fakeJwt({ iss: 'https://oidc.prod-aks.azure.com/fake/', sub: 'system:serviceaccount:monitoring:image-exporter', aud: ['api://AzureADTokenExchange'] });
const REFRESH = acrRefreshToken('registry', Math.floor(Date.now() / 1000) + 3 * 3600);

let pki: Pki;
let gcp: FakeGcp;
let gcpRegistry: RunningRegistry;
let entra: FakeEntra;
let acrRegistry: RunningRegistry;
let exchange: AcrExchange;
let acr: RecordingProxy;
let tokenFile: string;
let engine: Engine;

const lines: string[] = [];
const logger = createLogger('debug', (line) => lines.push(line));
/** Every reason a check or a provider gave: scanned for secrets at the end. */
const reasons: string[] = [];
const extraSecrets: string[] = [];
/** Every fake metadata server: what each issued is scanned for at the end. */
const fakes: FakeGcp[] = [];

async function fakeGcp(options: Parameters<typeof startFakeGcp>[0] = {}): Promise<FakeGcp> {
  const fake = await startFakeGcp(options);
  fakes.push(fake);
  stops.push(() => fake.stop());
  return fake;
}
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  pki = await createPki();
  tokenFile = join(pki.dir, 'azure-identity-token');
  await writeFile(tokenFile, `${FEDERATED}\n`);
  [gcp, entra, gcpRegistry, acrRegistry] = await Promise.all([
    startFakeGcp({ tokens: [GCP_TOKEN] }),
    startFakeEntra({ pki, tenantId: TENANT, clientId: CLIENT_ID, federatedToken: FEDERATED }),
    startRegistry({ tls: pki, auth: { kind: 'htpasswd', users: { [GCP_USERNAME]: GCP_TOKEN } } }),
    startRegistry({ tls: pki, auth: { kind: 'htpasswd', users: { [ACR_USERNAME]: REFRESH } } }),
  ]);
  stops.push(() => gcp.stop(), () => entra.stop(), () => gcpRegistry.stop(), () => acrRegistry.stop());
  await Promise.all([pushImage(gcpRegistry, 'project/repo/app', '1', 'docker'), pushImage(acrRegistry, 'team/app', '1', 'oci')]);
  exchange = acrExchange({ tenantId: TENANT, accepts: (token) => entra.issued.includes(token), refreshTokens: [REFRESH] });
  acr = await startRecordingProxy(acrRegistry.url, { ca: pki.caCertPem, serveTls: pki, intercept: exchange.intercept });
  stops.push(() => acr.stop());
  engine = newEngine();
});

afterAll(async () => {
  await engine?.transport.destroy();
  await Promise.allSettled(stops.map((stop) => stop()));
});

function newEngine(): Engine {
  const parsed = parseFlags([]);
  if (parsed.action !== 'run') throw new Error('default flags did not parse');
  return createEngine(parsed.config, { checkIntervalMs: 60_000, checkPlatforms: false }, { logger, registryCaPems: [pki.caCertPem] });
}

/** The provider, matching the loopback registry at `host` instead of its cloud's domains. */
function onHost(provider: CredentialProvider, host: string): CredentialProvider {
  return { name: provider.name, matches: (ref) => ref.registry === host, credentialFor: (ref) => provider.credentialFor(ref) };
}

let sequence = 0;
/** Checks `image` as a workload without pull secrets would pull it: with the providers' credentials. */
async function check(provider: CredentialProvider, image: string, on: Engine = engine): Promise<CheckResult> {
  const ref = parseImageReference(image);
  const credentials = new CredentialProviders([provider]).for(ref);
  expect(credentials.map((c) => c.id)).toEqual([`provider:${provider.name}`]);
  // A key of its own: the checker's cache must not answer for an earlier check.
  const request: CheckRequest = { key: `${ref.canonical}\n${credentials[0]?.id}\n#${sequence++}`, image, locations: [{ ref, authoritative: true, credentials }] };
  const result = await on.checker.check(request);
  reasons.push(result.detail);
  return result;
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => new Error('resolved'),
    (e: unknown) => e as Error,
  );
  expect(error.name).toBe('CredentialProviderError');
  reasons.push(error.message);
  return error.message;
}

function basicUser(header: string | string[] | undefined): { user: string; password: string } | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = /^Basic (.+)$/.exec(value ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** A port nothing listens on: a fake started and stopped. */
async function deadHost(): Promise<string> {
  const gone = await startFakeGcp();
  await gone.stop();
  return gone.host;
}

describe('the fakes answer as the real endpoints do', () => {
  test('metadata server: the request header is required, the answer carries Metadata-Flavor: Google', async () => {
    const without = await request(`http://${gcp.host}${TOKEN_PATH}`);
    expect(without.statusCode).toBe(403);
    expect(without.headers['metadata-flavor']).toBe('Google');
    await without.body.dump();
    const proxied = await request(`http://${gcp.host}${TOKEN_PATH}`, { headers: { 'metadata-flavor': 'Google', 'x-forwarded-for': '10.0.0.1' } });
    expect(proxied.statusCode).toBe(403);
    await proxied.body.dump();
    const root = await request(`http://${gcp.host}/computeMetadata/v1/`, { headers: { 'metadata-flavor': 'Google' } });
    expect(root.statusCode).toBe(200);
    expect(await root.body.text()).toContain('instance/');
    expect(gcp.issued).toEqual([]); // none of these got a token
  });

  test('the registries take only their own password (so a present image proves the provider gave it)', async () => {
    const [otherToken, otherRefresh] = [googleLikeToken(), acrRefreshToken('registry', Math.floor(Date.now() / 1000) + 3600)];
    extraSecrets.push(otherToken, otherRefresh);
    expect((await checkWithPassword(gcpRegistry, GCP_USERNAME, otherToken, 'project/repo/app:1')).status).toBe('auth_failure');
    expect((await checkWithPassword(acrRegistry, ACR_USERNAME, otherRefresh, 'team/app:1')).status).toBe('auth_failure');
    expect((await checkWithPassword(acrRegistry, ACR_USERNAME, REFRESH, 'team/app:1')).status).toBe('present');
  });
});

/** Checks through the engine with a fixed password (what a stale or foreign token would do). */
async function checkWithPassword(registry: RunningRegistry, username: string, password: string, path: string): Promise<CheckResult> {
  const fixed: CredentialProvider = { name: 'fixed', matches: () => true, credentialFor: async () => ({ username, password }) };
  return check(fixed, `${registry.host}/${path}`);
}

describe('GCP: Artifact Registry / GCR through the GCE metadata server', () => {
  test('the metadata server token opens the registry as oauth2accesstoken: present, and absent proven', async () => {
    const provider = onHost(createGcpProvider({ logger, metadataHost: gcp.host }), gcpRegistry.host);
    const before = gcp.tokenRequests().length;
    expect(await check(provider, `${gcpRegistry.host}/project/repo/app:1`)).toMatchObject({ status: 'present' });
    const absent = await check(provider, `${gcpRegistry.host}/project/repo/app:does-not-exist`);
    expect(absent.status).toBe('absent');
    // One token for both checks, asked the way Google's libraries ask.
    const asked = gcp.tokenRequests().slice(before);
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({ method: 'GET', path: TOKEN_PATH });
    expect(asked[0]?.headers['metadata-flavor']).toBe('Google');
    expect(asked[0]?.headers['x-forwarded-for']).toBeUndefined();
    expect(gcp.issued.at(-1)).toBe(GCP_TOKEN);
  });

  test('a new token after the old one expires (injected clock)', async () => {
    const fake = await fakeGcp({ expiresIn: 300 });
    let now = Date.now();
    const provider = createGcpProvider({ logger, metadataHost: fake.host, now: () => now });
    const image = parseImageReference('us-docker.pkg.dev/p/r/app:1');
    const first = await provider.credentialFor(image);
    expect(first).toEqual({ username: 'oauth2accesstoken', password: fake.issued[0] });
    now += 300_000 - 60_000 - 1;
    expect(await provider.credentialFor(image)).toEqual(first);
    expect(fake.tokenRequests()).toHaveLength(1);
    now += 1;
    const second = await provider.credentialFor(image);
    expect(second.password).toBe(fake.issued[1]);
    expect(second.password).not.toBe(first.password);
    expect(fake.tokenRequests()).toHaveLength(2);
  });

  test('20 concurrent checks: one token request', async () => {
    const fake = await fakeGcp({ tokens: [GCP_TOKEN] });
    fake.delayMs = 200; // all 20 ask while the first request is out
    const provider = onHost(createGcpProvider({ logger, metadataHost: fake.host }), gcpRegistry.host);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => check(provider, `${gcpRegistry.host}/project/repo/app:${i === 0 ? '1' : `missing-${i}`}`)),
    );
    expect(results.map((r) => r.status)).toEqual(['present', ...Array.from({ length: 19 }, () => 'absent')]);
    expect(fake.tokenRequests()).toHaveLength(1);
  });

  test('a metadata server that fails, is down, is slow or is not one: auth_failure, never absent', async () => {
    const fake = await fakeGcp({ tokens: [GCP_TOKEN] });
    const images = [`${gcpRegistry.host}/project/repo/app:1`, `${gcpRegistry.host}/project/repo/app:does-not-exist`];
    const checkAll = async (provider: CredentialProvider) => Promise.all(images.map((image) => check(provider, image)));

    fake.failWith = { status: 500, body: 'Unable to generate access token; IAM returned 503 Service Unavailable\n' };
    for (const result of await checkAll(onHost(createGcpProvider({ logger, metadataHost: fake.host }), gcpRegistry.host))) {
      expect(result.status).toBe('auth_failure');
      expect(result.detail).toContain(`the GCE metadata server at ${fake.host} refused a token: HTTP 500: Unable to generate access token; IAM returned 503 Service Unavailable`);
    }
    fake.failWith = undefined;

    fake.impostor = true;
    for (const result of await checkAll(onHost(createGcpProvider({ logger, metadataHost: fake.host }), gcpRegistry.host))) {
      expect(result.status).toBe('auth_failure');
      expect(result.detail).toContain('is not a GCE metadata server (HTTP 200 without Metadata-Flavor: Google)');
    }
    fake.impostor = false;

    fake.delayMs = 3000;
    const started = Date.now();
    for (const result of await checkAll(onHost(createGcpProvider({ logger, metadataHost: fake.host, timeoutMs: 300 }), gcpRegistry.host))) {
      expect(result.status).toBe('auth_failure');
      expect(result.detail).toBe(`cannot reach the GCE metadata server at ${fake.host}: no answer within 0.3 s (TimeoutError)`);
    }
    expect(Date.now() - started).toBeLessThan(2500);
    fake.delayMs = 0;

    const dead = await deadHost();
    for (const result of await checkAll(onHost(createGcpProvider({ logger, metadataHost: dead }), gcpRegistry.host))) {
      expect(result.status).toBe('auth_failure');
      expect(result.detail).toContain(`cannot reach the GCE metadata server at ${dead}: connection refused`);
    }
    // Only the impostor's answer held a token (which was not taken); the slow one may still answer.
    expect(fake.issued.length).toBeGreaterThanOrEqual(1);
  });

  test('gcpAvailable: yes only for a metadata server answering in time', async () => {
    expect(await gcpAvailable(gcp.host)).toBe(true);
    const fake = await fakeGcp();
    fake.impostor = true;
    expect(await gcpAvailable(fake.host)).toBe(false);
    fake.impostor = false;
    fake.delayMs = 1000;
    const started = Date.now();
    expect(await gcpAvailable(fake.host, 200)).toBe(false);
    expect(Date.now() - started).toBeLessThan(900);
    expect(await gcpAvailable(await deadHost())).toBe(false);
    expect(fake.tokenRequests()).toEqual([]); // detection never asks for a token
  });
});

describe('ACR through Azure workload identity (the real @azure/identity against a fake Entra)', () => {
  /** As the workload identity webhook sets them, pointing at the fake authority. */
  const env = (): NodeJS.ProcessEnv => ({
    AZURE_AUTHORITY_HOST: entra.url,
    AZURE_TENANT_ID: TENANT,
    AZURE_CLIENT_ID: CLIENT_ID,
    AZURE_FEDERATED_TOKEN_FILE: tokenFile,
  });
  /**
   * How the SDK is pointed at the fake: the authority from AZURE_AUTHORITY_HOST; the test CA as the
   * only trusted one (core-rest-pipeline's tlsOptions, which the SDK's own HTTP client applies);
   * no instance discovery (MSAL would ask login.microsoftonline.com which authorities exist); no
   * retries, so that a failing Entra fails at once.
   */
  const acrOptions = (more: Partial<AcrProviderOptions> = {}): AcrProviderOptions => ({
    logger,
    env: env(),
    identityOptions: { disableInstanceDiscovery: true, tlsOptions: { ca: pki.caCertPem }, retryOptions: { maxRetries: 0 } },
    extraCaPems: [pki.caCertPem],
    ...more,
  });

  test('federated token → Entra token for ACR → /oauth2/exchange → the null GUID + refresh token open the registry', async () => {
    const provider = onHost(createAcrProvider(acrOptions()), acr.host);
    const entraBefore = entra.tokenRequests().length;
    const exchangesBefore = exchange.requests.length;
    acr.reset();
    expect(await check(provider, `${acr.host}/team/app:1`)).toMatchObject({ status: 'present' });
    expect(await check(provider, `${acr.host}/team/app:does-not-exist`)).toMatchObject({ status: 'absent' });

    // What the SDK sent Entra: the client credentials grant with the federated token as assertion.
    const asked = entra.tokenRequests().slice(entraBefore);
    expect(asked).toHaveLength(1);
    expect(new URL(asked[0]?.path ?? '', 'https://x').pathname).toBe(`/${TENANT}/oauth2/v2.0/token`);
    expect(asked[0]?.form).toMatchObject({
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      scope: ACR_SCOPE,
      client_assertion: FEDERATED,
      client_assertion_type: CLIENT_ASSERTION_TYPE,
    });
    expect(entra.requests.some((r) => r.path === `/${TENANT}/v2.0/.well-known/openid-configuration`)).toBe(true);
    expect(entra.requests.some((r) => r.path.startsWith('/common/discovery/instance'))).toBe(false);

    // What the provider sent the registry host: Entra's token, for this registry and tenant.
    const exchanged = exchange.requests.slice(exchangesBefore);
    expect(exchanged).toHaveLength(1);
    expect(exchanged[0]?.contentType).toBe('application/x-www-form-urlencoded');
    expect(exchanged[0]?.form).toEqual({ grant_type: 'access_token', service: acr.host, tenant: TENANT, access_token: entra.issued.at(-1) });

    // And what the registry got: Basic auth as the null GUID with the refresh token.
    const authorizations = acr.requests.filter((r) => r.path.startsWith('/v2/')).map((r) => basicUser(r.headers['authorization']));
    expect(authorizations.filter(Boolean).length).toBeGreaterThan(0);
    for (const auth of authorizations.filter(Boolean)) expect(auth).toEqual({ user: ACR_USERNAME, password: REFRESH });
  });

  test('a new refresh token shortly before the old one expires (injected clock)', async () => {
    let now = Date.now();
    const soon = Math.floor(now / 1000) + 3600;
    const tokens = [acrRefreshToken('registry', soon), acrRefreshToken('registry', soon + 3 * 3600)];
    extraSecrets.push(...tokens);
    const ownExchange = acrExchange({ tenantId: TENANT, accepts: (token) => entra.issued.includes(token), refreshTokens: tokens });
    const proxy = await startRecordingProxy(acrRegistry.url, { ca: pki.caCertPem, serveTls: pki, intercept: ownExchange.intercept });
    stops.push(() => proxy.stop());
    const provider = createAcrProvider(acrOptions({ now: () => now }));
    const image = parseImageReference(`${proxy.host}/team/app:1`);
    expect(await provider.credentialFor(image)).toEqual({ username: ACR_USERNAME, password: tokens[0] });
    now = soon * 1000 - 5 * 60_000 - 1;
    expect((await provider.credentialFor(image)).password).toBe(tokens[0]);
    expect(ownExchange.requests).toHaveLength(1);
    now += 1;
    expect((await provider.credentialFor(image)).password).toBe(tokens[1]);
    expect(ownExchange.requests).toHaveLength(2);
  });

  test('20 concurrent checks: one Entra token, one exchange', async () => {
    const entraBefore = entra.tokenRequests().length;
    const exchangesBefore = exchange.requests.length;
    exchange.delayMs = 200;
    try {
      const provider = onHost(createAcrProvider(acrOptions()), acr.host);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => check(provider, `${acr.host}/team/app:${i === 0 ? '1' : `missing-${i}`}`)));
      expect(results.map((r) => r.status)).toEqual(['present', ...Array.from({ length: 19 }, () => 'absent')]);
    } finally {
      exchange.delayMs = 0;
    }
    expect(entra.tokenRequests().length - entraBefore).toBe(1);
    expect(exchange.requests.length - exchangesBefore).toBe(1);
  });

  test('Entra refusing, unreachable or slow, the exchange failing, no workload identity: auth_failure, never absent', async () => {
    const images = [`${acr.host}/team/app:1`, `${acr.host}/team/app:does-not-exist`];
    const checkAll = async (options: AcrProviderOptions) => {
      const provider = onHost(createAcrProvider(options), acr.host);
      return Promise.all(images.map((image) => check(provider, image)));
    };

    // The federated token Entra does not know (another ServiceAccount's): Entra's own refusal.
    const strangerFile = join(pki.dir, 'stranger-token');
    const stranger = fakeJwt({ sub: 'system:serviceaccount:other:other' });
    extraSecrets.push(stranger);
    await writeFile(strangerFile, stranger);
    for (const result of await checkAll(acrOptions({ env: { ...env(), AZURE_FEDERATED_TOKEN_FILE: strangerFile } }))) {
      expect(result.status).toBe('auth_failure');
      expect(result.detail).toContain('Microsoft Entra ID gave no token for ACR: invalid_client (AADSTS700213');
    }
    expect(entra.tokenRequests().some((r) => r.form?.['client_assertion'] === stranger)).toBe(true);

    entra.failWith = { status: 500, error: 'server_error', code: 50000, description: 'There was an error issuing a token.' };
    try {
      for (const result of await checkAll(acrOptions())) {
        expect(result.status).toBe('auth_failure');
        expect(result.detail).toContain('Microsoft Entra ID gave no token for ACR: server_error (AADSTS50000)');
      }
    } finally {
      entra.failWith = undefined;
    }

    const dead = await deadHost();
    for (const result of await checkAll(acrOptions({ env: { ...env(), AZURE_AUTHORITY_HOST: `https://${dead}` } }))) {
      expect(result.status).toBe('auth_failure');
      expect(result.detail).toBe(
        'Microsoft Entra ID gave no token for ACR: endpoints_resolution_error (the authority (AZURE_AUTHORITY_HOST) could not be reached or did not answer as one)',
      );
    }

    entra.delayMs = 3000;
    try {
      const started = Date.now();
      for (const result of await checkAll(acrOptions({ timeoutMs: 300 }))) {
        expect(result.status).toBe('auth_failure');
        expect(result.detail).toBe('Microsoft Entra ID gave no token for ACR: no answer within 0.3 s');
      }
      expect(Date.now() - started).toBeLessThan(2500);
    } finally {
      entra.delayMs = 0;
    }

    exchange.failWith = { status: 503, code: 'SERVICE_UNAVAILABLE', message: 'The service is temporarily unavailable.' };
    try {
      for (const result of await checkAll(acrOptions())) {
        expect(result.status).toBe('auth_failure');
        expect(result.detail).toContain(`${acr.host} refused the Entra token in /oauth2/exchange: HTTP 503: SERVICE_UNAVAILABLE`);
      }
    } finally {
      exchange.failWith = undefined;
    }

    // The registry's TLS certificate is not trusted for the exchange (no --registry-ca-file).
    for (const result of await checkAll(acrOptions({ extraCaPems: [] }))) {
      expect(result.status).toBe('auth_failure');
      expect(result.detail).toContain('cannot reach');
      expect(result.detail).toContain('add that CA with --registry-ca-file');
    }

    for (const result of await checkAll(acrOptions({ env: { AZURE_TENANT_ID: TENANT } }))) {
      expect(result.status).toBe('auth_failure');
      expect(result.detail).toContain('Azure workload identity is not set up: AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID not set');
    }
  });

  test('a provider error names no secret either', async () => {
    const provider = createAcrProvider(acrOptions({ env: { ...env(), AZURE_FEDERATED_TOKEN_FILE: join(pki.dir, 'missing-file') } }));
    const reason = await rejection(provider.credentialFor(parseImageReference(`${acr.host}/team/app:1`)));
    expect(reason).toBe('Microsoft Entra ID gave no token for ACR: cannot read the federated token file (AZURE_FEDERATED_TOKEN_FILE): ENOENT');
  });
});

describe('no secret anywhere', () => {
  test('no token, refresh token, federated token or password in any log line or reason', () => {
    const secrets = [GCP_TOKEN, FEDERATED, REFRESH, ...gcp.issued, ...fakes.flatMap((f) => f.issued), ...entra.issued, ...exchange.issued, ...extraSecrets];
    expect(entra.issued.length).toBeGreaterThan(0);
    expect(reasons.length).toBeGreaterThan(20);
    expect(lines.length).toBeGreaterThan(0);
    for (const secret of new Set(secrets)) {
      expect(secret.length).toBeGreaterThan(20);
      for (const line of lines) expect(line).not.toContain(secret);
      for (const reason of reasons) expect(reason).not.toContain(secret);
      // Nor a recognisable part of one (a JWT's payload or signature).
      for (const part of secret.split('.').filter((p) => p.length > 20)) {
        for (const line of lines) expect(line).not.toContain(part);
        for (const reason of reasons) expect(reason).not.toContain(part);
      }
    }
  });
});
