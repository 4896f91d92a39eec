/**
 * The ECR credential provider's own logic, with a stand-in ECR client: which hosts it serves, how it
 * reads the token, how long it keeps it, how it fails, and what `auto` detects. The real SDK against
 * answers shaped like AWS's is in test/integration/ecr-provider.test.ts.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ECRClient } from '@aws-sdk/client-ecr';
import { describe, expect, test } from 'vitest';
import {
  createEcrProvider,
  describeError,
  ECR_FAILURE_RETRY_MS,
  ECR_REFRESH_BEFORE_EXPIRY_MS,
  ecrEnvironment,
  parseEcrHost,
} from '../../src/credentials/providers/ecr.js';
import { CredentialProviders } from '../../src/credentials/providers/providers.js';
import { parseImageReference } from '../../src/image/reference.js';
import type { Logger } from '../../src/utils/log.js';
import { CredentialProviderError, resolveCredential } from '../../src/registry/credentials.js';

const run = promisify(execFile);
const PASSWORD = 'ecr-pw-Unit-5e1f0c';
const HOUR = 3600_000;

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (msg: string, fields?: object) => lines.push(JSON.stringify({ level, msg, ...fields }));
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

interface FakeEcr {
  readonly calls: Array<{ region: string; command: string; input: unknown }>;
  /** What the next GetAuthorizationToken answers: a token, or an error thrown. */
  answer: (region: string) => Promise<unknown>;
  factory: (region: string) => ECRClient;
}

function tokenAnswer(password: string, expiresAt: number | undefined): unknown {
  return {
    authorizationData: [
      { authorizationToken: Buffer.from(`AWS:${password}`).toString('base64'), expiresAt: expiresAt === undefined ? undefined : new Date(expiresAt) },
    ],
  };
}

function fakeEcr(clock: () => number): FakeEcr {
  const fake: FakeEcr = {
    calls: [],
    answer: async () => tokenAnswer(PASSWORD, clock() + 12 * HOUR),
    factory: (region) =>
      ({
        config: {},
        send: async (command: { constructor: { name: string }; input: unknown }) => {
          fake.calls.push({ region, command: command.constructor.name, input: command.input });
          await new Promise((resolve) => setTimeout(resolve, 5));
          return fake.answer(region);
        },
      }) as unknown as ECRClient,
  };
  return fake;
}

function setup() {
  let time = Date.UTC(2026, 0, 1);
  const clock = { now: () => time, advance: (ms: number) => (time += ms), set: (t: number) => (time = t) };
  const ecr = fakeEcr(clock.now);
  const logger = recordingLogger();
  const provider = createEcrProvider({ logger, now: clock.now, clientFactory: ecr.factory });
  return { clock, ecr, logger, provider };
}

const ref = (image: string) => parseImageReference(image);
const APP = ref('123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1');

describe('parseEcrHost', () => {
  test.each([
    ['123456789012.dkr.ecr.eu-west-1.amazonaws.com', '123456789012', 'eu-west-1', false],
    ['123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com', '123456789012', 'us-gov-west-1', true],
    ['123456789012.dkr.ecr-fips.us-east-1.amazonaws.com', '123456789012', 'us-east-1', true],
    ['210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn', '210987654321', 'cn-north-1', false],
    ['123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov', '123456789012', 'us-iso-east-1', false],
    ['123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov', '123456789012', 'us-isob-east-1', false],
    ['123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk', '123456789012', 'eu-isoe-west-1', false],
    ['123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov', '123456789012', 'us-isof-south-1', false],
    ['123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu', '123456789012', 'eusc-de-east-1', false],
    ['123456789012.dkr-ecr.eu-west-1.on.aws', '123456789012', 'eu-west-1', false],
    ['123456789012.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn', '123456789012', 'cn-northwest-1', false],
  ])('%s', (host, account, region, fips) => {
    expect(parseEcrHost(host)).toEqual({ account, region, fips });
  });

  test.each([
    'public.ecr.aws',
    'ecr.aws',
    'docker.io',
    '12345678901.dkr.ecr.eu-west-1.amazonaws.com', // 11 digits
    '1234567890123.dkr.ecr.eu-west-1.amazonaws.com', // 13 digits
    'x.123456789012.dkr.ecr.eu-west-1.amazonaws.com',
    '123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example',
    '123456789012.dkr.ecr.eu-west-1.amazonaws.co',
    'api.ecr.eu-west-1.amazonaws.com',
    '123456789012.dkr.ecr..amazonaws.com',
    // With a port: the kubelet's matchImages do not match it, so neither does the provider.
    '123456789012.dkr.ecr.eu-west-1.amazonaws.com:443',
  ])('not ECR: %s', (host) => {
    expect(parseEcrHost(host)).toBeUndefined();
  });
});

describe('matching', () => {
  test('private ECR images match, public ECR and others do not', () => {
    const { provider } = setup();
    expect(provider.name).toBe('ecr');
    expect(provider.matches(APP)).toBe(true);
    expect(provider.matches(ref('123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/app@sha256:' + 'a'.repeat(64)))).toBe(true);
    expect(provider.matches(ref('123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app'))).toBe(true);
    expect(provider.matches(ref('public.ecr.aws/nginx/nginx:1.27'))).toBe(false);
    expect(provider.matches(ref('nginx'))).toBe(false);
    expect(provider.matches(ref('ghcr.io/org/app:1'))).toBe(false);
  });

  test('through CredentialProviders the credential is provider:ecr, fetched only when resolved', async () => {
    const { provider, ecr } = setup();
    const providers = new CredentialProviders([provider]);
    expect(providers.for(ref('public.ecr.aws/nginx/nginx:1.27'))).toEqual([]);
    const [credential, ...rest] = providers.for(APP);
    expect(rest).toEqual([]);
    expect(credential?.id).toBe('provider:ecr');
    expect(ecr.calls).toHaveLength(0);
    expect(await resolveCredential(credential!)).toEqual({ credential: { id: 'provider:ecr', username: 'AWS', password: PASSWORD } });
  });

  test('asked for a registry that is not ECR, it refuses with a reason', async () => {
    const { provider, ecr } = setup();
    await expect(provider.credentialFor(ref('ghcr.io/org/app:1'))).rejects.toThrow(new CredentialProviderError('ghcr.io is not an Amazon ECR registry'));
    expect(ecr.calls).toHaveLength(0);
  });
});

describe('tokens', () => {
  test('GetAuthorizationToken in the region of the host, without the deprecated registryIds; AWS and the password', async () => {
    const { provider, ecr } = setup();
    expect(await provider.credentialFor(APP)).toEqual({ username: 'AWS', password: PASSWORD });
    expect(ecr.calls).toEqual([{ region: 'eu-west-1', command: 'GetAuthorizationTokenCommand', input: {} }]);
  });

  test('a password containing colons is kept whole', async () => {
    const { provider, ecr } = setup();
    ecr.answer = async () => tokenAnswer('a:b:c', undefined);
    expect(await provider.credentialFor(APP)).toEqual({ username: 'AWS', password: 'a:b:c' });
  });

  test('one token per region: reused by repositories and accounts of the region, until 5 minutes before expiry', async () => {
    const { provider, ecr, clock } = setup();
    const expiresAt = clock.now() + 12 * HOUR;
    ecr.answer = async () => tokenAnswer(PASSWORD, expiresAt);
    for (let i = 0; i < 20; i++) await provider.credentialFor(ref(`123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo-${i % 4}:v${i}`));
    // Another account in the same region: the request would be the same, so is the token.
    await provider.credentialFor(ref('210987654321.dkr.ecr.eu-west-1.amazonaws.com/shared:1'));
    expect(ecr.calls.map((c) => c.region)).toEqual(['eu-west-1']);

    await provider.credentialFor(ref('123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1'));
    expect(ecr.calls.map((c) => c.region)).toEqual(['eu-west-1', 'us-east-1']);

    clock.set(expiresAt - ECR_REFRESH_BEFORE_EXPIRY_MS - 1);
    await provider.credentialFor(APP);
    expect(ecr.calls).toHaveLength(2);
    clock.set(expiresAt - ECR_REFRESH_BEFORE_EXPIRY_MS);
    await provider.credentialFor(APP);
    expect(ecr.calls.map((c) => c.region)).toEqual(['eu-west-1', 'us-east-1', 'eu-west-1']);
  });

  test('a token without expiry is reused for an hour', async () => {
    const { provider, ecr, clock } = setup();
    ecr.answer = async () => tokenAnswer(PASSWORD, undefined);
    await provider.credentialFor(APP);
    clock.advance(HOUR - 1);
    await provider.credentialFor(APP);
    expect(ecr.calls).toHaveLength(1);
    clock.advance(1);
    await provider.credentialFor(APP);
    expect(ecr.calls).toHaveLength(2);
  });

  test('20 concurrent callers share one request', async () => {
    const { provider, ecr } = setup();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    ecr.answer = async () => {
      await gate;
      return tokenAnswer(PASSWORD, Date.UTC(2026, 0, 2));
    };
    const all = Promise.all(Array.from({ length: 20 }, (_, i) => provider.credentialFor(ref(`123456789012.dkr.ecr.eu-west-1.amazonaws.com/r${i}:1`))));
    await new Promise((resolve) => setTimeout(resolve, 20));
    release();
    const credentials = await all;
    expect(new Set(credentials.map((c) => c.password))).toEqual(new Set([PASSWORD]));
    expect(ecr.calls).toHaveLength(1);
  });
});

describe('failures', () => {
  const accessDenied = Object.assign(
    new Error(
      'User: arn:aws:sts::123456789012:assumed-role/exporter/aws-sdk-js-session-1 is not authorized to perform: ecr:GetAuthorizationToken on resource: * because no identity-based policy allows the ecr:GetAuthorizationToken action',
    ),
    { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } },
  );

  test('an SDK error becomes a CredentialProviderError naming it; it is remembered for 30 s, then asked again', async () => {
    const { provider, ecr, clock, logger } = setup();
    ecr.answer = async () => {
      throw accessDenied;
    };
    const expected =
      'ECR GetAuthorizationToken in eu-west-1 failed: AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/exporter/aws-sdk-js-session-1 is not authorized to perform: ecr:GetAuthorizationToken on resource: * because no identity-based policy allows the ecr:GetAuthorizationToken action';
    await expect(provider.credentialFor(APP)).rejects.toThrow(new CredentialProviderError(expected));
    const error = await provider.credentialFor(APP).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredentialProviderError);
    expect((error as Error).message.length).toBeLessThanOrEqual(300);
    expect((error as Error).message).toContain('AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/exporter');
    expect(ecr.calls).toHaveLength(1);
    expect(logger.lines.filter((l) => l.includes('"warn"'))).toHaveLength(1);

    clock.advance(ECR_FAILURE_RETRY_MS - 1);
    await expect(provider.credentialFor(APP)).rejects.toThrow(CredentialProviderError);
    expect(ecr.calls).toHaveLength(1);
    clock.advance(1);
    ecr.answer = async () => tokenAnswer(PASSWORD, clock.now() + 12 * HOUR);
    expect(await provider.credentialFor(APP)).toEqual({ username: 'AWS', password: PASSWORD });
    expect(ecr.calls).toHaveLength(2);
  });

  test('through resolveCredential the failure is the problem reported', async () => {
    const { provider, ecr } = setup();
    ecr.answer = async () => {
      throw accessDenied;
    };
    const [credential] = new CredentialProviders([provider]).for(APP);
    const resolved = await resolveCredential(credential!);
    expect(resolved).toEqual({ problem: expect.stringContaining('AccessDeniedException') });
  });

  test('a failed renewal keeps the token in hand until it expires, and retries every 30 s', async () => {
    const { provider, ecr, clock } = setup();
    const expiresAt = clock.now() + 12 * HOUR;
    ecr.answer = async () => tokenAnswer(PASSWORD, expiresAt);
    await provider.credentialFor(APP);
    ecr.answer = async () => {
      throw accessDenied;
    };
    clock.set(expiresAt - ECR_REFRESH_BEFORE_EXPIRY_MS);
    expect(await provider.credentialFor(APP)).toEqual({ username: 'AWS', password: PASSWORD });
    expect(await provider.credentialFor(APP)).toEqual({ username: 'AWS', password: PASSWORD });
    expect(ecr.calls).toHaveLength(2);
    clock.advance(ECR_FAILURE_RETRY_MS);
    await provider.credentialFor(APP);
    expect(ecr.calls).toHaveLength(3);
    clock.set(expiresAt);
    await expect(provider.credentialFor(APP)).rejects.toThrow('AccessDeniedException');
    expect(ecr.calls).toHaveLength(4);
  });

  test.each([
    ['no authorization data', { authorizationData: [] }, 'returned no authorization token'],
    ['not user:password', { authorizationData: [{ authorizationToken: Buffer.from('nocolon').toString('base64') }] }, 'returned a malformed authorization token'],
    ['empty user', { authorizationData: [{ authorizationToken: Buffer.from(':pw').toString('base64') }] }, 'returned a malformed authorization token'],
  ])('%s', async (_, answer, reason) => {
    const { provider, ecr } = setup();
    ecr.answer = async () => answer;
    await expect(provider.credentialFor(APP)).rejects.toThrow(new CredentialProviderError(`ECR GetAuthorizationToken in eu-west-1 ${reason}`));
  });

  test('credentials the SDK cannot find are told apart from ECR refusing', async () => {
    const logger = recordingLogger();
    const client = {
      config: {
        credentials: async () => {
          throw Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
        },
      },
      send: async () => {
        throw new Error('not reached');
      },
    } as unknown as ECRClient;
    const provider = createEcrProvider({ logger, clientFactory: () => client });
    await expect(provider.credentialFor(APP)).rejects.toThrow(
      /^ECR credentials for eu-west-1: no AWS credentials from .+: CredentialsProviderError: Could not load credentials from any providers$/,
    );
  });

  test('a request that never ends fails after the timeout', async () => {
    const logger = recordingLogger();
    const client = { config: {}, send: () => new Promise(() => {}) } as unknown as ECRClient;
    const provider = createEcrProvider({ logger, clientFactory: () => client, timeoutMs: 50 });
    await expect(provider.credentialFor(APP)).rejects.toThrow(new CredentialProviderError('ECR credentials for eu-west-1: no answer within 0 s'));
  });
});

describe('describeError', () => {
  test('name and message on one line, at most 300 characters', () => {
    expect(describeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }))).toBe('connect ECONNREFUSED 127.0.0.1:9');
    expect(describeError(Object.assign(new Error('a\n  b'), { name: 'ThrottlingException' }))).toBe('ThrottlingException: a b');
    expect(describeError('plain')).toBe('plain');
    expect(describeError(new Error('word '.repeat(200)))).toHaveLength(300);
  });

  test('the reason of a long SDK error is cut at 300 characters', async () => {
    const { provider, ecr } = setup();
    ecr.answer = async () => {
      throw Object.assign(new Error('because '.repeat(100)), { name: 'ServerException' });
    };
    const error = (await provider.credentialFor(APP).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(CredentialProviderError);
    expect(error.message).toHaveLength(300);
    expect(error.message).toMatch(/^ECR GetAuthorizationToken in eu-west-1 failed: ServerException: because because .*…\(cut, \d+ chars\)$/);
  });

  test('anything shaped like a key, a session token or a JWT is blanked out', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const session = `FwoGZXIvYXdzE${'Ab9+/'.repeat(40)}`;
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl';
    const text = describeError(new Error(`bad ${secret} and ${session} and ${jwt} for arn:aws:iam::123456789012:role/exporter`));
    expect(text).not.toContain(secret);
    expect(text).not.toContain(session.slice(0, 60));
    expect(text).not.toContain(jwt);
    expect(text).toContain('arn:aws:iam::123456789012:role/exporter');
  });
});

describe('ecrEnvironment', () => {
  test.each([
    [{}, undefined],
    [{ AWS_REGION: 'eu-west-1' }, undefined],
    [{ AWS_ROLE_ARN: 'arn:aws:iam::1:role/r', AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token' }, 'IRSA (AWS_ROLE_ARN)'],
    [{ AWS_ROLE_ARN: 'arn:aws:iam::1:role/r' }, undefined],
    [
      { AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials', AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token' },
      'EKS Pod Identity',
    ],
    [{ AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://[fd00:ec2::23]/v1/credentials' }, 'EKS Pod Identity'],
    [{ AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://localhost:8080/creds' }, 'container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI)'],
    [{ AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/x' }, 'ECS task role (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)'],
    [{ AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' }, 'AWS_ACCESS_KEY_ID'],
    [{ AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE' }, undefined],
    [{ AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_ROLE_ARN: 'r', AWS_WEB_IDENTITY_TOKEN_FILE: 'f' }, 'AWS_ACCESS_KEY_ID'],
    [{ AWS_PROFILE: 'prod', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' }, 'AWS_PROFILE'],
    [{ AWS_ROLE_ARN: ' ', AWS_WEB_IDENTITY_TOKEN_FILE: '' }, undefined],
  ])('%j → %s', (env, expected) => {
    expect(ecrEnvironment(env)).toBe(expected);
  });

  test('never names a value, only which variables are set', () => {
    const found = ecrEnvironment({ AWS_ACCESS_KEY_ID: 'AKIA-VALUE-1', AWS_SECRET_ACCESS_KEY: 'SECRET-VALUE-2' });
    expect(found).not.toContain('VALUE');
  });
});

test('the SDK is loaded only when an ECR credential is first fetched', async () => {
  const module = fileURLToPath(new URL('../../src/credentials/providers/ecr.ts', import.meta.url));
  const reference = fileURLToPath(new URL('../../src/image/reference.ts', import.meta.url));
  const script = `
    import { createRequire } from 'node:module';
    const require = createRequire(import.meta.url);
    const loaded = () => Object.keys(require.cache).some((k) => k.includes('@aws-sdk'));
    const { createEcrProvider, ecrEnvironment } = await import(${JSON.stringify(module)});
    const { parseImageReference } = await import(${JSON.stringify(reference)});
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const client = { config: {}, send: async () => ({ authorizationData: [{ authorizationToken: Buffer.from('AWS:x').toString('base64') }] }) };
    const provider = createEcrProvider({ logger: quiet, clientFactory: () => client });
    const image = parseImageReference('123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1');
    const before = { afterImport: loaded(), matches: provider.matches(image), env: ecrEnvironment({}) ?? null, afterMatch: loaded() };
    await provider.credentialFor(image);
    console.log(JSON.stringify({ ...before, afterUse: loaded() }));
  `;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)) });
  expect(JSON.parse(stdout)).toEqual({ afterImport: false, matches: true, env: null, afterMatch: false, afterUse: true });
});
