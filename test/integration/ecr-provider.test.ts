/**
 * The ECR credential provider with the real AWS SDK, its default credential chain going the IRSA
 * way (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE), pointed at a loopback server that answers like
 * STS and ECR (test/support/fake-aws.ts), and the credential it returns opening a real registry.
 *
 * An ECR host name cannot lead to the local registry, so the provider is asked for the ECR image
 * (`123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:1`) and what it gives (AWS and the token's
 * password) is what the engine's checker sends to the real htpasswd registry holding `team/app:1`:
 * a location at 127.0.0.1:PORT whose credential is the provider's, exactly as CredentialProviders
 * hands it to the planner.
 */
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CheckRequest } from '../../src/engine/image-check.js';
import { parseCheckFlags } from '../../src/flags/config.js';
import { createEcrProvider } from '../../src/credentials/providers/ecr.js';
import { CredentialProviders, type CredentialProvider } from '../../src/credentials/providers/providers.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { parseImageReference } from '../../src/image/reference.js';
import { createLogger } from '../../src/utils/log.js';
import type { CheckResult } from '../../src/registry/status.js';
import { startFakeAws, type FakeAws } from '../support/fake-aws.js';
import { listenLoopback } from '../support/listen.js';
import { pushImage } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';

// Distinctive so that a leak anywhere is found by a plain substring search.
const PASSWORD = 'ecr-pw-Reg1stry-9d2b7a';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/image-existence-exporter';
const WEB_IDENTITY_TOKEN = `eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.${Buffer.from(JSON.stringify({ sub: 'system:serviceaccount:monitoring:image-existence-exporter', nonce: Math.random() })).toString('base64url')}.c2lnbmF0dXJlLWZvci10ZXN0cw`;
const ECR = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const REPOSITORIES = ['team/app', 'team/api', 'team/web', 'team/db'];

let aws: FakeAws;
let registry: RunningRegistry;
let savedEnv: Record<string, string | undefined>;
const logLines: string[] = [];
/** Every reason, detail and error message these tests saw: scanned for secrets at the end. */
const produced: string[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
const logger = createLogger('debug', (line) => logLines.push(line));

function engine(): Engine {
  const parsed = parseCheckFlags([`--allow-plain-http=${registry.host}`, 'manifests.yaml']);
  if (parsed.action !== 'check') throw new Error('unexpected help');
  return createEngine(parsed.config, { checkIntervalMs: 60_000, checkPlatforms: false }, { logger });
}

let checks = 0;
/** Checks `local` (a repository:tag of the local registry) with the credentials providers give `ecrImage`. */
async function check(engineUsed: Engine, providers: readonly CredentialProvider[], local: string, ecrImage: string): Promise<CheckResult> {
  const credentials = new CredentialProviders(providers).for(parseImageReference(ecrImage));
  const request: CheckRequest = {
    key: `${ecrImage} as ${local} #${checks++}`,
    image: ecrImage,
    locations: [{ ref: parseImageReference(`${registry.host}/${local}`), authoritative: true, credentials }],
  };
  const result = await engineUsed.checker.check(request);
  produced.push(result.detail);
  return result;
}

async function closedPort(): Promise<string> {
  const server = createServer();
  const host = await listenLoopback(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return host;
}

async function reason(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as Error,
  );
  produced.push(error.message);
  return error.message;
}

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  aws = await startFakeAws({ password: PASSWORD });
  registry = await startRegistry({ auth: { kind: 'htpasswd', users: { AWS: PASSWORD } } });
  for (const repository of REPOSITORIES) await pushImage(registry, repository, '1', 'docker');
  const dir = await makeTempDir('ecr');
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, WEB_IDENTITY_TOKEN);

  // The SDK reads its configuration from the environment: only what these tests set may count.
  savedEnv = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('AWS_')).map((k) => [k, process.env[k]]));
  for (const key of Object.keys(savedEnv)) delete process.env[key];
  Object.assign(process.env, {
    AWS_ROLE_ARN: ROLE_ARN,
    AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
    // Not the registries' region: the provider must take the region from the host.
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_STS: aws.url,
    AWS_ENDPOINT_URL_ECR: aws.url,
    AWS_CONFIG_FILE: join(dir, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
  });
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  for (const key of Object.keys(process.env).filter((k) => k.startsWith('AWS_'))) delete process.env[key];
  for (const [key, value] of Object.entries(savedEnv ?? {})) if (value !== undefined) process.env[key] = value;
  await registry?.stop();
  await aws?.close();
});

describe('IRSA through the real SDK', () => {
  test('STS gets the role and the token of the file; ECR the host region and STS keys; the registry takes the credential', async () => {
    aws.reset();
    const provider = createEcrProvider({ logger });
    const checker = engine();

    const result = await check(checker, [provider], 'team/app:1', `${ECR}/team/app:1`);
    expect(result.status).toBe('present');

    expect(aws.stsCalls).toHaveLength(1);
    const sts = aws.stsCalls[0]!;
    expect(sts).toMatchObject({ action: 'AssumeRoleWithWebIdentity', version: '2011-06-15', roleArn: ROLE_ARN, webIdentityToken: WEB_IDENTITY_TOKEN });
    expect(sts.roleSessionName).toBeTruthy();
    expect(sts.issued).toBeDefined();

    expect(aws.ecrCalls).toHaveLength(1);
    expect(aws.ecrCalls[0]).toEqual({
      target: 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken',
      body: {},
      region: 'eu-west-1',
      service: 'ecr',
      accessKeyId: sts.issued!.accessKeyId,
      sessionToken: sts.issued!.sessionToken,
      signatureValid: true,
    });

    // The same credential proves absence, as the node's would.
    expect((await check(checker, [provider], 'team/missing:1', `${ECR}/team/missing:1`)).status).toBe('absent');
    expect(aws.ecrCalls).toHaveLength(1);
  });

  test('without the provider the registry refuses; with a token ECR signs for another password it refuses too', async () => {
    const checker = engine();
    expect((await check(checker, [], 'team/app:1', `${ECR}/team/app:1`)).status).toBe('auth_failure');

    aws.ecr.password = 'not-the-registry-password';
    try {
      const result = await check(checker, [createEcrProvider({ logger })], 'team/app:1', `${ECR}/team/app:1`);
      expect(result.status).toBe('auth_failure');
    } finally {
      aws.ecr.password = PASSWORD;
    }
  });

  test('FIPS and China hosts: ECR is asked in their regions', async () => {
    aws.reset();
    const provider = createEcrProvider({ logger });
    expect(await provider.credentialFor(parseImageReference('123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/app:1'))).toEqual({ username: 'AWS', password: PASSWORD });
    expect(await provider.credentialFor(parseImageReference('210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn/app:1'))).toEqual({ username: 'AWS', password: PASSWORD });
    expect(aws.ecrCalls.map((c) => [c.region, c.signatureValid])).toEqual([
      ['us-gov-west-1', true],
      ['cn-north-1', true],
    ]);
  });

  test('public ECR is not matched: no credential, no call to AWS', async () => {
    aws.reset();
    const provider = createEcrProvider({ logger });
    expect(new CredentialProviders([provider]).for(parseImageReference('public.ecr.aws/nginx/nginx:1.27'))).toEqual([]);
    expect(aws.stsCalls).toHaveLength(0);
    expect(aws.ecrCalls).toHaveLength(0);
  });
});

describe('one token per region', () => {
  test('20 checks of several repositories of one account and region: one GetAuthorizationToken; a second region: a second', async () => {
    aws.reset();
    const provider = createEcrProvider({ logger });
    const checker = engine();
    for (let i = 0; i < 20; i++) {
      const repository = REPOSITORIES[i % REPOSITORIES.length]!;
      expect((await check(checker, [provider], `${repository}:1`, `${ECR}/${repository}:1`)).status).toBe('present');
    }
    expect(aws.ecrCalls.map((c) => c.region)).toEqual(['eu-west-1']);
    expect(aws.stsCalls).toHaveLength(1);

    expect((await check(checker, [provider], 'team/app:1', '123456789012.dkr.ecr.eu-central-1.amazonaws.com/team/app:1')).status).toBe('present');
    expect(aws.ecrCalls.map((c) => c.region)).toEqual(['eu-west-1', 'eu-central-1']);
    expect(aws.ecrCalls.every((c) => c.signatureValid)).toBe(true);
  });

  test('20 concurrent callers: one request', async () => {
    aws.reset();
    aws.ecr.delayMs = 200;
    try {
      const provider = createEcrProvider({ logger });
      const all = await Promise.all(Array.from({ length: 20 }, (_, i) => provider.credentialFor(parseImageReference(`${ECR}/r${i}:1`))));
      expect(all.every((c) => c.username === 'AWS' && c.password === PASSWORD)).toBe(true);
      expect(aws.ecrCalls).toHaveLength(1);
      expect(aws.stsCalls).toHaveLength(1);
    } finally {
      aws.ecr.delayMs = 0;
    }
  });

  test('a new token once the clock passes 5 minutes before expiresAt', async () => {
    aws.reset();
    const expiresAt = Math.floor(Date.now() / 1000) * 1000 + 12 * 3600_000;
    aws.ecr.expiresAt = () => expiresAt;
    let time = Date.now();
    try {
      const provider = createEcrProvider({ logger, now: () => time });
      const image = parseImageReference(`${ECR}/team/app:1`);
      await provider.credentialFor(image);
      time = expiresAt - 5 * 60_000 - 1;
      await provider.credentialFor(image);
      expect(aws.ecrCalls).toHaveLength(1);
      time = expiresAt - 5 * 60_000;
      expect(await provider.credentialFor(image)).toEqual({ username: 'AWS', password: PASSWORD });
      expect(aws.ecrCalls).toHaveLength(2);
      // The SDK keeps the STS credentials (valid an hour) for the second call.
      expect(aws.stsCalls).toHaveLength(1);
    } finally {
      aws.ecr.expiresAt = undefined;
    }
  });
});

describe('failures', () => {
  test('ECR answering AccessDenied: auth_failure with that reason, never absent', async () => {
    aws.reset();
    aws.ecr.error = {
      type: 'AccessDeniedException',
      message:
        'User: arn:aws:sts::123456789012:assumed-role/image-existence-exporter/aws-sdk-js-session-1 is not authorized to perform: ecr:GetAuthorizationToken on resource: * because no identity-based policy allows the ecr:GetAuthorizationToken action',
    };
    try {
      const provider = createEcrProvider({ logger });
      const checker = engine();
      for (const local of ['team/missing:1', 'team/app:1']) {
        const result = await check(checker, [provider], local, `${ECR}/${local}`);
        expect(result.status).toBe('auth_failure');
        expect(result.detail).toContain(
          'ECR GetAuthorizationToken in eu-west-1 failed: AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/image-existence-exporter/aws-sdk-js-session-1 is not authorized to perform: ecr:GetAuthorizationToken',
        );
      }
      // The failure is remembered for 30 s: the second check did not ask again.
      expect(aws.ecrCalls).toHaveLength(1);
      expect(aws.ecrCalls[0]!.signatureValid).toBe(true);
    } finally {
      aws.ecr.error = undefined;
    }
  });

  test('STS down (port closed): auth_failure saying so, the process survives, and it recovers', async () => {
    aws.reset();
    const before = process.env['AWS_ENDPOINT_URL_STS'];
    process.env['AWS_ENDPOINT_URL_STS'] = `http://${await closedPort()}`;
    let time = Date.now();
    const provider = createEcrProvider({ logger, now: () => time });
    const checker = engine();
    try {
      const result = await check(checker, [provider], 'team/app:1', `${ECR}/team/app:1`);
      expect(result.status).toBe('auth_failure');
      expect(result.detail).toMatch(/^ECR credentials for eu-west-1: no AWS credentials from IRSA \(AWS_ROLE_ARN\) via STS AssumeRoleWithWebIdentity: .*ECONNREFUSED/);
      expect(aws.ecrCalls).toHaveLength(0);
    } finally {
      process.env['AWS_ENDPOINT_URL_STS'] = before;
    }
    // STS is back; after 30 s the same provider asks again and succeeds.
    time += 30_000;
    expect((await check(checker, [provider], 'team/app:1', `${ECR}/team/app:1`)).status).toBe('present');
    expect(aws.stsCalls).toHaveLength(1);
    expect(aws.ecrCalls).toHaveLength(1);
    expect(unhandled).toEqual([]);
  });

  test('STS refusing the web identity token: its error in the reason', async () => {
    aws.reset();
    aws.sts.error = { code: 'InvalidIdentityToken', message: 'No OpenIDConnect provider found in your account for https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE' };
    try {
      const message = await reason(createEcrProvider({ logger }).credentialFor(parseImageReference(`${ECR}/team/app:1`)));
      expect(message).toBe(
        'ECR credentials for eu-west-1: no AWS credentials from IRSA (AWS_ROLE_ARN) via STS AssumeRoleWithWebIdentity: InvalidIdentityTokenException: No OpenIDConnect provider found in your account for https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE',
      );
      expect(aws.stsCalls).toHaveLength(1);
      expect(aws.ecrCalls).toHaveLength(0);
    } finally {
      aws.sts.error = undefined;
    }
  });

  test('no AWS identity at all: the SDK says so', async () => {
    const saved = { role: process.env['AWS_ROLE_ARN'], file: process.env['AWS_WEB_IDENTITY_TOKEN_FILE'] };
    delete process.env['AWS_ROLE_ARN'];
    delete process.env['AWS_WEB_IDENTITY_TOKEN_FILE'];
    try {
      const message = await reason(createEcrProvider({ logger }).credentialFor(parseImageReference(`${ECR}/team/app:1`)));
      expect(message).toBe('ECR credentials for eu-west-1: no AWS credentials from the default chain: CredentialsProviderError: Could not load credentials from any providers');
    } finally {
      process.env['AWS_ROLE_ARN'] = saved.role;
      process.env['AWS_WEB_IDENTITY_TOKEN_FILE'] = saved.file;
    }
  });
});

test('no secret in any reason, detail or log line: the password, secret keys, session tokens, the web identity token', () => {
  expect(aws.issued.length).toBeGreaterThan(0);
  expect(logLines.some((l) => l.includes('ECR authorization token obtained'))).toBe(true);
  expect(logLines.some((l) => l.includes('AccessDeniedException'))).toBe(true);
  const secrets = [PASSWORD, WEB_IDENTITY_TOKEN, ...aws.issued.flatMap((c) => [c.secretAccessKey, c.sessionToken])];
  const texts = [...produced, ...logLines];
  expect(texts.length).toBeGreaterThan(20);
  for (const text of texts) for (const secret of secrets) expect(text).not.toContain(secret);
  expect(unhandled).toEqual([]);
});
