/**
 * The cloud credential providers without a network: which images each serves (the kubelet's
 * patterns), when they detect their environment, and their caching, sharing and failures against
 * undici's MockAgent (no connection leaves the process) with an injected clock. What goes over the
 * wire to faithful fakes, the real Azure SDK and a real registry is in the integration test.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { MockAgent } from 'undici';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { ACR_SCOPE, ACR_USERNAME, acrEnvironment, createAcrProvider, isAcrRegistry, jwtExpiry } from '../../src/credentials/providers/acr.js';
import {
  DEFAULT_METADATA_HOST,
  GCP_USERNAME,
  createGcpProvider,
  gcpAvailable,
  isGcpRegistry,
  metadataHostFrom,
} from '../../src/credentials/providers/gcp.js';
import { errorDetail } from '../../src/credentials/providers/endpoint-errors.js';
import { CredentialProviders } from '../../src/credentials/providers/providers.js';
import { parseImageReference } from '../../src/image/reference.js';
import { createLogger } from '../../src/utils/log.js';
import { CredentialProviderError, resolveCredential } from '../../src/registry/credentials.js';
import { acrRefreshToken } from '../support/fake-azure.js';
import { googleLikeToken } from '../support/fake-gcp.js';

const ref = parseImageReference;
const TOKEN_PATH = '/computeMetadata/v1/instance/service-accounts/default/token';
/** Never contacted: MockAgent answers for it (and refuses any real connection). */
const METADATA = '127.0.0.1:1';
const ORIGIN = `http://${METADATA}`;

/** Every secret a test hands out, and every line and reason it produced: none may hold one. */
let secrets: string[];
let lines: string[];
let reasons: string[];
let logger: ReturnType<typeof createLogger>;
let agent: MockAgent;

beforeEach(() => {
  secrets = [];
  lines = [];
  reasons = [];
  logger = createLogger('debug', (line) => lines.push(line));
  agent = new MockAgent();
  agent.disableNetConnect();
});

afterEach(async () => {
  for (const secret of secrets) {
    for (const line of lines) expect(line).not.toContain(secret);
    for (const reason of reasons) expect(reason).not.toContain(secret);
  }
  await agent.close();
});

/** The reason a call fails with (kept for the leak scan). */
async function failure(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CredentialProviderError);
  const reason = (error as Error).message;
  reasons.push(reason);
  return reason;
}

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('which images each provider serves (the kubelet providers’ patterns)', () => {
  test('GCP: gcr.io, its regional hosts, Artifact Registry, exact host labels, no port', () => {
    for (const image of [
      'gcr.io/project/app:1',
      'us.gcr.io/project/app',
      'eu.gcr.io/project/app',
      'asia.gcr.io/project/app',
      'marketplace.gcr.io/google/ubuntu',
      'us-docker.pkg.dev/project/repo/app:1',
      'europe-west1-docker.pkg.dev/project/repo/app@sha256:' + 'a'.repeat(64),
      'container.cloud.google.com/x/y',
    ]) {
      expect(isGcpRegistry(ref(image)), image).toBe(true);
    }
    for (const image of [
      'docker.io/library/nginx',
      'nginx',
      'ghcr.io/org/app',
      'gcr.io.evil.example/app',
      'evilgcr.io/app',
      'a.b.gcr.io/app',
      'pkg.dev/app',
      'gcr.io:5000/app',
      'myreg.azurecr.io/app',
    ]) {
      expect(isGcpRegistry(ref(image)), image).toBe(false);
    }
    expect(createGcpProvider({ logger, metadataHost: METADATA, dispatcher: agent }).name).toBe('gcp');
  });

  test('ACR: the login servers of the public and sovereign clouds only', () => {
    for (const image of ['myreg.azurecr.io/app:1', 'Contoso.azurecr.io/team/app', 'reg.azurecr.cn/app', 'reg.azurecr.us/app', 'reg.azurecr.de/app']) {
      expect(isAcrRegistry(ref(image)), image).toBe(true);
    }
    for (const image of ['azurecr.io/app', 'myreg.azurecr.io.evil.example/app', 'myreg.azurecr.com/app', 'mcr.microsoft.com/dotnet/runtime', 'a.b.azurecr.io/app', 'myreg.azurecr.io:443/app', 'gcr.io/p/a']) {
      expect(isAcrRegistry(ref(image)), image).toBe(false);
    }
    const acr = createAcrProvider({ logger, env: {} });
    expect(acr.name).toBe('acr');
    expect(acr.matches(ref('myreg.azurecr.io/app'))).toBe(true);
    expect(acr.matches(ref('127.0.0.1:5000/app'))).toBe(false);
  });

  test('CredentialProviders hands out provider:<name> credentials for matching images only', () => {
    const providers = new CredentialProviders([
      createGcpProvider({ logger, metadataHost: METADATA, dispatcher: agent }),
      createAcrProvider({ logger, env: {} }),
    ]);
    expect(providers.for(ref('us-docker.pkg.dev/p/r/app')).map((c) => c.id)).toEqual(['provider:gcp']);
    expect(providers.for(ref('myreg.azurecr.io/app')).map((c) => c.id)).toEqual(['provider:acr']);
    expect(providers.for(ref('docker.io/library/nginx'))).toEqual([]);
  });
});

describe('environment detection', () => {
  test('the metadata server is found by its host NAME, or GCE_METADATA_HOST', () => {
    expect(DEFAULT_METADATA_HOST).toBe('metadata.google.internal');
    expect(metadataHostFrom({})).toBe('metadata.google.internal');
    expect(metadataHostFrom({ GCE_METADATA_HOST: ' ' })).toBe('metadata.google.internal');
    expect(metadataHostFrom({ GCE_METADATA_HOST: '127.0.0.1:8080' })).toBe('127.0.0.1:8080');
  });

  test('gcpAvailable: only an answer with Metadata-Flavor: Google counts', async () => {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/computeMetadata/v1/', headers: { 'metadata-flavor': 'Google' } })
      .reply(200, 'instance/\nproject/\n', { headers: { 'metadata-flavor': 'Google' } });
    expect(await gcpAvailable(METADATA, 1000, agent)).toBe(true);
    pool.intercept({ path: '/computeMetadata/v1/' }).reply(200, '<html>captive portal</html>');
    expect(await gcpAvailable(METADATA, 1000, agent)).toBe(false);
    pool.intercept({ path: '/computeMetadata/v1/' }).replyWithError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    expect(await gcpAvailable(METADATA, 1000, agent)).toBe(false);
  });

  test('acrEnvironment: the three variables the workload identity webhook injects', () => {
    const all = { AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/azure/tokens/azure-identity-token', AZURE_CLIENT_ID: 'c', AZURE_TENANT_ID: 't' };
    expect(acrEnvironment(all)).toBe('Azure workload identity');
    expect(acrEnvironment({ ...all, AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.com/' })).toBe('Azure workload identity');
    for (const name of Object.keys(all)) {
      expect(acrEnvironment({ ...all, [name]: undefined })).toBeUndefined();
      expect(acrEnvironment({ ...all, [name]: '' })).toBeUndefined();
    }
    expect(acrEnvironment({})).toBeUndefined();
  });
});

describe('helpers', () => {
  test('jwtExpiry reads exp without verifying; undefined when it cannot', () => {
    const exp = 1_900_000_000;
    expect(jwtExpiry(acrRefreshToken('r.azurecr.io', exp))).toBe(exp * 1000);
    expect(jwtExpiry(acrRefreshToken('r.azurecr.io', undefined))).toBeUndefined();
    expect(jwtExpiry('opaque-token')).toBeUndefined();
    expect(jwtExpiry('a.%%%.c')).toBeUndefined();
    expect(jwtExpiry(`a.${Buffer.from('{"exp":"soon"}').toString('base64url')}.c`)).toBeUndefined();
  });

  test('errorDetail keeps an error code and a short line, never a token-like run', () => {
    const token = googleLikeToken();
    secrets.push(token);
    const detail = errorDetail(`Unable to generate access token; IAM returned 403 Forbidden: Permission 'iam.serviceAccounts.getAccessToken' denied ${token}\nsecond line`);
    reasons.push(detail);
    expect(detail).toContain("IAM returned 403 Forbidden: Permission 'iam.serviceAccounts.getAccessToken' denied");
    expect(detail).not.toContain('second line');
    expect(errorDetail(JSON.stringify({ error: 'invalid_grant', error_description: 'bad' }))).toBe(': invalid_grant: bad');
    expect(errorDetail(JSON.stringify({ error: 'x'.repeat(100) }))).toBe('');
    expect(errorDetail('<html><body>Error 500</body></html>')).toBe('');
    expect(errorDetail('')).toBe('');
    expect(errorDetail('x'.repeat(500)).length).toBeLessThanOrEqual(202);
  });
});

describe('GCP provider', () => {
  function tokenReply(token: string, expiresIn = 3599) {
    return {
      statusCode: 200,
      data: JSON.stringify({ access_token: token, expires_in: expiresIn, token_type: 'Bearer' }),
      responseOptions: { headers: { 'metadata-flavor': 'Google', 'content-type': 'application/json' } },
    };
  }

  test('asks the metadata server with Metadata-Flavor: Google; oauth2accesstoken + the token', async () => {
    const token = googleLikeToken();
    secrets.push(token);
    const seen: Array<Record<string, string>> = [];
    agent
      .get(ORIGIN)
      .intercept({ path: TOKEN_PATH, method: 'GET' })
      .reply((opts) => {
        seen.push(opts.headers as Record<string, string>);
        return tokenReply(token);
      });
    const gcp = createGcpProvider({ logger, metadataHost: METADATA, dispatcher: agent });
    expect(await gcp.credentialFor(ref('us-docker.pkg.dev/p/r/app'))).toEqual({ username: GCP_USERNAME, password: token });
    expect(GCP_USERNAME).toBe('oauth2accesstoken');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.['metadata-flavor']).toBe('Google');
  });

  test('reuses the token until a minute before it expires, then gets a new one', async () => {
    const [first, second] = [googleLikeToken(), googleLikeToken()];
    secrets.push(first, second);
    const t = clock();
    let asked = 0;
    agent
      .get(ORIGIN)
      .intercept({ path: TOKEN_PATH })
      .reply(() => tokenReply(++asked === 1 ? first : second, 3600))
      .persist();
    const gcp = createGcpProvider({ logger, metadataHost: METADATA, dispatcher: agent, now: t.now });
    const image = ref('gcr.io/p/app');
    expect((await gcp.credentialFor(image)).password).toBe(first);
    t.advance(3600_000 - 60_000 - 1);
    expect((await gcp.credentialFor(image)).password).toBe(first);
    expect(asked).toBe(1);
    t.advance(1);
    expect((await gcp.credentialFor(image)).password).toBe(second);
    expect(asked).toBe(2);
    expect((await gcp.credentialFor(image)).password).toBe(second);
    expect(asked).toBe(2);
  });

  test('20 concurrent calls share one request', async () => {
    const token = googleLikeToken();
    secrets.push(token);
    let asked = 0;
    agent
      .get(ORIGIN)
      .intercept({ path: TOKEN_PATH })
      .reply(() => {
        asked++;
        return tokenReply(token);
      })
      .delay(50)
      .persist();
    const gcp = createGcpProvider({ logger, metadataHost: METADATA, dispatcher: agent });
    const answers = await Promise.all(Array.from({ length: 20 }, () => gcp.credentialFor(ref('gcr.io/p/app'))));
    expect(new Set(answers.map((a) => a.password))).toEqual(new Set([token]));
    expect(asked).toBe(1);
  });

  test('an answer without Metadata-Flavor: Google is not a metadata server, whatever it says', async () => {
    const token = googleLikeToken();
    secrets.push(token);
    agent
      .get(ORIGIN)
      .intercept({ path: TOKEN_PATH })
      .reply(200, JSON.stringify({ access_token: token, expires_in: 3599, token_type: 'Bearer' }), { headers: { 'content-type': 'application/json' } });
    const gcp = createGcpProvider({ logger, metadataHost: METADATA, dispatcher: agent });
    expect(await failure(gcp.credentialFor(ref('gcr.io/p/app')))).toBe(
      `the GCE metadata server at ${METADATA} is not a GCE metadata server (HTTP 200 without Metadata-Flavor: Google)`,
    );
  });

  test('errors say the status and the error, and are not asked again for a few seconds', async () => {
    const t = clock();
    let asked = 0;
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: TOKEN_PATH })
      .reply(() => {
        asked++;
        return {
          statusCode: 403,
          data: "Unable to generate access token; IAM returned 403 Forbidden: Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).\n",
          responseOptions: { headers: { 'metadata-flavor': 'Google' } },
        };
      })
      .times(1);
    const gcp = createGcpProvider({ logger, metadataHost: METADATA, dispatcher: agent, now: t.now, retryFailedAfterMs: 5000 });
    const reason = await failure(gcp.credentialFor(ref('gcr.io/p/app')));
    expect(reason).toBe(
      `the GCE metadata server at ${METADATA} refused a token: HTTP 403: Unable to generate access token; IAM returned 403 Forbidden: Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).`,
    );
    expect(await failure(gcp.credentialFor(ref('gcr.io/p/app')))).toBe(reason);
    expect(asked).toBe(1);
    expect(lines.filter((line) => line.includes('no Google access token'))).toHaveLength(1);

    const token = googleLikeToken();
    secrets.push(token);
    pool.intercept({ path: TOKEN_PATH }).reply(() => tokenReply(token));
    t.advance(5000);
    expect((await gcp.credentialFor(ref('gcr.io/p/app'))).password).toBe(token);
  });

  test('malformed answers and unreachable servers are reasons too', async () => {
    const pool = agent.get(ORIGIN);
    const gcp = () => createGcpProvider({ logger, metadataHost: METADATA, dispatcher: agent });
    const flavor = { headers: { 'metadata-flavor': 'Google' } };
    pool.intercept({ path: TOKEN_PATH }).reply(200, 'not json', flavor);
    expect(await failure(gcp().credentialFor(ref('gcr.io/p/a')))).toMatch(/answered a token request with something other than JSON$/);
    pool.intercept({ path: TOKEN_PATH }).reply(200, JSON.stringify({ token_type: 'Bearer' }), flavor);
    expect(await failure(gcp().credentialFor(ref('gcr.io/p/a')))).toMatch(/answered without an access_token$/);
    pool.intercept({ path: TOKEN_PATH }).reply(500, JSON.stringify({ error: 'internal_failure', error_description: 'backend unavailable' }), flavor);
    expect(await failure(gcp().credentialFor(ref('gcr.io/p/a')))).toMatch(/refused a token: HTTP 500: internal_failure: backend unavailable$/);
    pool.intercept({ path: TOKEN_PATH }).replyWithError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }));
    expect(await failure(gcp().credentialFor(ref('gcr.io/p/a')))).toMatch(new RegExp(`^cannot reach the GCE metadata server at ${METADATA.replace(/\./g, '\\.')}: .*\\(ECONNREFUSED\\)$`));
  });
});

describe('ACR provider', () => {
  const REGISTRY = 'contoso.azurecr.io';
  const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const ENV = { AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: 'c1d2', AZURE_FEDERATED_TOKEN_FILE: '/nonexistent' };

  /** A TokenCredential that counts its calls and hands out distinct tokens. */
  function fakeCredential(fail?: () => Error): TokenCredential & { calls: string[][]; tokens: string[] } {
    const calls: string[][] = [];
    const tokens: string[] = [];
    return {
      calls,
      tokens,
      async getToken(scopes): Promise<AccessToken> {
        calls.push(Array.isArray(scopes) ? scopes : [scopes as string]);
        if (fail) throw fail();
        const token = `aad-${tokens.length}-${googleLikeToken()}`;
        tokens.push(token);
        secrets.push(token);
        return { token, expiresOnTimestamp: Date.now() + 3600_000 };
      },
    };
  }

  function exchangeReply(refreshToken: string) {
    return { statusCode: 200, data: JSON.stringify({ refresh_token: refreshToken }), responseOptions: { headers: { 'content-type': 'application/json' } } };
  }

  test('exchanges an Entra token for ACR audience at https://<registry>/oauth2/exchange; null GUID + refresh token', async () => {
    const refresh = acrRefreshToken(REGISTRY, Math.floor(Date.now() / 1000) + 3 * 3600);
    secrets.push(refresh);
    const credential = fakeCredential();
    const forms: URLSearchParams[] = [];
    const contentTypes: string[] = [];
    agent
      .get(`https://${REGISTRY}`)
      .intercept({ path: '/oauth2/exchange', method: 'POST' })
      .reply((opts) => {
        forms.push(new URLSearchParams(String(opts.body)));
        contentTypes.push((opts.headers as Record<string, string>)['content-type'] ?? '');
        return exchangeReply(refresh);
      });
    const acr = createAcrProvider({ logger, env: ENV, credential, dispatcher: agent });
    expect(await acr.credentialFor(ref(`${REGISTRY}/team/app:1`))).toEqual({ username: ACR_USERNAME, password: refresh });
    expect(ACR_USERNAME).toBe('00000000-0000-0000-0000-000000000000');
    expect(credential.calls).toEqual([[ACR_SCOPE]]);
    expect(ACR_SCOPE).toBe('https://containerregistry.azure.net/.default');
    expect(contentTypes).toEqual(['application/x-www-form-urlencoded']);
    expect(Object.fromEntries(forms[0] ?? [])).toEqual({ grant_type: 'access_token', service: REGISTRY, tenant: TENANT, access_token: credential.tokens[0] });
  });

  test('cached per registry until five minutes before the refresh token expires; ~3 h when it says nothing', async () => {
    const t = clock(Date.now());
    const nowSeconds = Math.floor(t.now() / 1000);
    const withExp = [acrRefreshToken(REGISTRY, nowSeconds + 3600), acrRefreshToken(REGISTRY, nowSeconds + 7200)];
    const opaque = ['opaque-refresh-1-' + googleLikeToken(), 'opaque-refresh-2-' + googleLikeToken()];
    secrets.push(...withExp, ...opaque);
    const credential = fakeCredential();
    let exchanges = 0;
    agent
      .get(`https://${REGISTRY}`)
      .intercept({ path: '/oauth2/exchange', method: 'POST' })
      .reply(() => exchangeReply(withExp[exchanges++] as string))
      .persist();
    let otherExchanges = 0;
    agent
      .get('https://other.azurecr.cn')
      .intercept({ path: '/oauth2/exchange', method: 'POST' })
      .reply(() => exchangeReply(opaque[otherExchanges++] as string))
      .persist();
    const acr = createAcrProvider({ logger, env: ENV, credential, dispatcher: agent, now: t.now });
    const here = ref(`${REGISTRY}/app`);
    const there = ref('other.azurecr.cn/app');
    expect((await acr.credentialFor(here)).password).toBe(withExp[0]);
    expect((await acr.credentialFor(there)).password).toBe(opaque[0]);
    expect((await acr.credentialFor(ref(`${REGISTRY.toUpperCase()}/other`))).password).toBe(withExp[0]);
    // exp − 5 min: the first one is used until then.
    t.advance(3600_000 - 300_000 - 1000);
    expect((await acr.credentialFor(here)).password).toBe(withExp[0]);
    expect(exchanges).toBe(1);
    t.advance(1000);
    expect((await acr.credentialFor(here)).password).toBe(withExp[1]);
    expect(exchanges).toBe(2);
    // The opaque one: three hours less the margin from when it came.
    expect((await acr.credentialFor(there)).password).toBe(opaque[0]);
    t.advance(3 * 3600_000 - 3600_000);
    expect((await acr.credentialFor(there)).password).toBe(opaque[1]);
    expect(otherExchanges).toBe(2);
  });

  test('20 concurrent calls share one Entra token and one exchange', async () => {
    const refresh = acrRefreshToken(REGISTRY, Math.floor(Date.now() / 1000) + 3 * 3600);
    secrets.push(refresh);
    const credential = fakeCredential();
    let exchanges = 0;
    agent
      .get(`https://${REGISTRY}`)
      .intercept({ path: '/oauth2/exchange', method: 'POST' })
      .reply(() => {
        exchanges++;
        return exchangeReply(refresh);
      })
      .delay(50)
      .persist();
    const acr = createAcrProvider({ logger, env: ENV, credential, dispatcher: agent });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => acr.credentialFor(ref(`${REGISTRY}/app${i}`))));
    expect(new Set(answers.map((a) => a.password))).toEqual(new Set([refresh]));
    expect(exchanges).toBe(1);
    expect(credential.calls).toHaveLength(1);
  });

  test('failures: Entra refusing, the registry refusing, no workload identity; none says a token', async () => {
    const entraError = Object.assign(
      new Error(
        'invalid_client: Error(s): 700213 - Timestamp: 2026-01-01 00:00:00Z - Description: AADSTS700213: No matching federated identity record found for presented assertion subject. Trace ID: x',
      ),
      { name: 'AuthenticationRequiredError' },
    );
    const refusing = createAcrProvider({ logger, env: ENV, credential: fakeCredential(() => entraError), dispatcher: agent });
    expect(await failure(refusing.credentialFor(ref(`${REGISTRY}/app`)))).toBe(
      "Microsoft Entra ID gave no token for ACR: invalid_client (AADSTS700213: no federated identity credential matches the exporter's ServiceAccount (issuer and subject system:serviceaccount:<namespace>:<name>))",
    );

    const credential = fakeCredential();
    agent
      .get(`https://${REGISTRY}`)
      .intercept({ path: '/oauth2/exchange', method: 'POST' })
      .reply(401, JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required, visit https://aka.ms/acr/authorization for more information.' }] }));
    const refused = createAcrProvider({ logger, env: ENV, credential, dispatcher: agent });
    expect(await failure(refused.credentialFor(ref(`${REGISTRY}/app`)))).toBe(
      `${REGISTRY} refused the Entra token in /oauth2/exchange: HTTP 401: UNAUTHORIZED: authentication required, visit https://aka.ms/acr/authorization for more information.`,
    );
    agent
      .get(`https://${REGISTRY}`)
      .intercept({ path: '/oauth2/exchange', method: 'POST' })
      .reply(200, JSON.stringify({ access_token: 'not what was asked' }));
    const odd = createAcrProvider({ logger, env: ENV, credential, dispatcher: agent });
    expect(await failure(odd.credentialFor(ref(`${REGISTRY}/app`)))).toBe(`${REGISTRY} answered /oauth2/exchange without a refresh_token`);

    const unset = createAcrProvider({ logger, env: { AZURE_TENANT_ID: TENANT }, dispatcher: agent });
    expect(await failure(unset.credentialFor(ref(`${REGISTRY}/app`)))).toMatch(
      /^Azure workload identity is not set up: AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID not set \(is the pod labelled azure\.workload\.identity\/use: "true"/,
    );
  });

  test('a failure is remembered for a few seconds, then asked again', async () => {
    const t = clock(Date.now());
    const refresh = acrRefreshToken(REGISTRY, Math.floor(Date.now() / 1000) + 3 * 3600);
    secrets.push(refresh);
    const credential = fakeCredential();
    const pool = agent.get(`https://${REGISTRY}`);
    pool.intercept({ path: '/oauth2/exchange', method: 'POST' }).reply(503, JSON.stringify({ errors: [{ code: 'SERVICE_UNAVAILABLE', message: 'try later' }] }));
    const acr = createAcrProvider({ logger, env: ENV, credential, dispatcher: agent, now: t.now, retryFailedAfterMs: 5000 });
    const reason = await failure(acr.credentialFor(ref(`${REGISTRY}/app`)));
    expect(reason).toBe(`${REGISTRY} refused the Entra token in /oauth2/exchange: HTTP 503: SERVICE_UNAVAILABLE: try later`);
    t.advance(4999);
    expect(await failure(acr.credentialFor(ref(`${REGISTRY}/app`)))).toBe(reason);
    expect(credential.calls).toHaveLength(1);
    pool.intercept({ path: '/oauth2/exchange', method: 'POST' }).reply(200, JSON.stringify({ refresh_token: refresh }));
    t.advance(1);
    expect((await acr.credentialFor(ref(`${REGISTRY}/app`))).password).toBe(refresh);
  });

  test('a provider that fails is a problem to report, never credentials', async () => {
    const acr = createAcrProvider({ logger, env: {}, dispatcher: agent });
    const [provided] = new CredentialProviders([acr]).for(ref(`${REGISTRY}/app`));
    expect(provided?.id).toBe('provider:acr');
    const resolved = await resolveCredential(provided!);
    expect(resolved).toEqual({ problem: expect.stringMatching(/^Azure workload identity is not set up/) });
  });
});
