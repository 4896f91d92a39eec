/**
 * A loopback HTTP server answering like the two AWS services the ECR credential provider meets:
 * STS `AssumeRoleWithWebIdentity` (Query protocol, XML) and ECR `GetAuthorizationToken`
 * (awsJson1_1). Point the real SDK at it with `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL_ECR`.
 *
 * It records what it was sent, issues fresh temporary credentials per AssumeRoleWithWebIdentity,
 * and checks each ECR request's SigV4 signature against the secret of the credentials it issued.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenLoopback } from './listen.js';

export interface IssuedCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
}

export interface StsCall {
  readonly action: string | null;
  readonly version: string | null;
  readonly roleArn: string | null;
  readonly webIdentityToken: string | null;
  readonly roleSessionName: string | null;
  /** What was issued in return (undefined when answered with an error). */
  readonly issued: IssuedCredentials | undefined;
}

export interface EcrCall {
  /** The X-Amz-Target header. */
  readonly target: string | undefined;
  readonly body: unknown;
  /** From the SigV4 credential scope `<key>/<date>/<region>/ecr/aws4_request`. */
  readonly region: string | undefined;
  readonly service: string | undefined;
  readonly accessKeyId: string | undefined;
  /** The X-Amz-Security-Token header. */
  readonly sessionToken: string | undefined;
  /**
   * The signature is right for the secret of the credentials STS issued with that access key id;
   * false when it is wrong or the key id was never issued.
   */
  readonly signatureValid: boolean;
}

export interface EcrError {
  readonly type: string;
  readonly message: string;
  /** Default 400. */
  readonly status?: number;
}

export interface FakeAws {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly stsCalls: StsCall[];
  readonly ecrCalls: EcrCall[];
  /** Every set of credentials STS issued, oldest first. */
  readonly issued: IssuedCredentials[];
  /** How ECR answers; change between tests. */
  readonly ecr: {
    /** The password inside the authorization token. */
    password: string;
    /** When the token expires, epoch ms; default one is 12 hours after the request. */
    expiresAt: (() => number) | undefined;
    /** Answer this error instead of a token. */
    error: EcrError | undefined;
    /** Wait this long before answering (ms). */
    delayMs: number;
  };
  /** How STS answers: an error code (e.g. `AccessDenied`) instead of credentials. */
  readonly sts: { error: { code: string; message: string } | undefined };
  /** Forgets the calls recorded so far. */
  reset(): void;
  close(): Promise<void>;
}

export interface FakeAwsOptions {
  /** The account of the proxyEndpoint it answers. */
  account?: string;
  password?: string;
}

const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function randomKeyId(): string {
  return `ASIA${Array.from(randomBytes(16), (b) => UPPER_ALNUM[b % UPPER_ALNUM.length]).join('')}`;
}

/** 40 characters of base64, the shape of a real secret access key. */
function randomSecret(): string {
  return randomBytes(30).toString('base64');
}

function xmlEscape(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

interface ParsedAuthorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

/** `AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/ecr/aws4_request, SignedHeaders=a;b, Signature=hex` */
function parseAuthorization(header: string | undefined): ParsedAuthorization | undefined {
  const match = /^AWS4-HMAC-SHA256\s+Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)$/.exec(header ?? '');
  if (!match) return undefined;
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match as unknown as string[];
  return { accessKeyId: accessKeyId!, date: date!, region: region!, service: service!, signedHeaders: signedHeaders!.split(';'), signature: signature! };
}

/** Recomputes the SigV4 signature of the request with `secret` (path `/`, no query, as the SDK sends it). */
function signatureMatches(req: IncomingMessage, body: Buffer, auth: ParsedAuthorization, secret: string): boolean {
  const amzDate = req.headers['x-amz-date'];
  if (typeof amzDate !== 'string') return false;
  const url = new URL(req.url ?? '/', 'http://fake');
  const canonicalHeaders = auth.signedHeaders
    .map((name) => {
      const value = req.headers[name];
      const text = Array.isArray(value) ? value.join(',') : (value ?? '');
      return `${name}:${text.trim().replace(/\s+/g, ' ')}\n`;
    })
    .join('');
  const payloadHash = typeof req.headers['x-amz-content-sha256'] === 'string' ? req.headers['x-amz-content-sha256'] : sha256Hex(body);
  const canonicalRequest = [req.method, url.pathname, url.search.slice(1), canonicalHeaders, auth.signedHeaders.join(';'), payloadHash].join('\n');
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${secret}`, auth.date);
  for (const part of [auth.region, auth.service, 'aws4_request']) key = hmac(key, part);
  return createHmac('sha256', key).update(stringToSign).digest('hex') === auth.signature;
}

export async function startFakeAws(options: FakeAwsOptions = {}): Promise<FakeAws> {
  const account = options.account ?? '123456789012';
  const stsCalls: StsCall[] = [];
  const ecrCalls: EcrCall[] = [];
  const issued: IssuedCredentials[] = [];
  const ecr: FakeAws['ecr'] = { password: options.password ?? 'ecr-password', expiresAt: undefined, error: undefined, delayMs: 0 };
  const sts: FakeAws['sts'] = { error: undefined };

  const answerSts = (res: ServerResponse, form: URLSearchParams): void => {
    const record = {
      action: form.get('Action'),
      version: form.get('Version'),
      roleArn: form.get('RoleArn'),
      webIdentityToken: form.get('WebIdentityToken'),
      roleSessionName: form.get('RoleSessionName'),
    };
    const requestId = randomBytes(16).toString('hex');
    if (record.action !== 'AssumeRoleWithWebIdentity' || sts.error) {
      stsCalls.push({ ...record, issued: undefined });
      const code = sts.error?.code ?? 'InvalidAction';
      const message = sts.error?.message ?? `unsupported action ${record.action ?? ''}`;
      res.writeHead(400, { 'content-type': 'text/xml' });
      res.end(
        `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
      return;
    }
    const credentials: IssuedCredentials = {
      accessKeyId: randomKeyId(),
      secretAccessKey: randomSecret(),
      sessionToken: `FwoGZXIvYXdzE${randomBytes(96).toString('base64')}`,
    };
    issued.push(credentials);
    stsCalls.push({ ...record, issued: credentials });
    const expiration = new Date(Date.now() + 3600_000).toISOString();
    const roleName = (record.roleArn ?? '').split('/').pop() ?? 'role';
    const session = record.roleSessionName ?? 'session';
    res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
    res.end(
      `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:monitoring:image-existence-exporter</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::${account}:assumed-role/${xmlEscape(roleName)}/${xmlEscape(session)}</Arn>
      <AssumedRoleId>AROA${randomKeyId().slice(4)}:${xmlEscape(session)}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${credentials.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${credentials.secretAccessKey}</SecretAccessKey>
      <SessionToken>${credentials.sessionToken}</SessionToken>
      <Expiration>${expiration}</Expiration>
    </Credentials>
    <Provider>arn:aws:iam::${account}:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`,
    );
  };

  const answerEcr = async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> => {
    const target = typeof req.headers['x-amz-target'] === 'string' ? req.headers['x-amz-target'] : undefined;
    const auth = parseAuthorization(req.headers.authorization);
    const secret = issued.find((c) => c.accessKeyId === auth?.accessKeyId)?.secretAccessKey;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8') || 'null');
    } catch {
      parsed = body.toString('utf8');
    }
    const sessionToken = req.headers['x-amz-security-token'];
    ecrCalls.push({
      target,
      body: parsed,
      region: auth?.region,
      service: auth?.service,
      accessKeyId: auth?.accessKeyId,
      sessionToken: typeof sessionToken === 'string' ? sessionToken : undefined,
      signatureValid: auth !== undefined && secret !== undefined && signatureMatches(req, body, auth, secret),
    });
    if (ecr.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, ecr.delayMs));
    const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomBytes(16).toString('hex'), ...headers });
      res.end(JSON.stringify(value));
    };
    if (target !== 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken') {
      json(400, { __type: 'UnknownOperationException', message: `unknown target ${target ?? ''}` });
      return;
    }
    if (!auth || !secret) {
      json(400, { __type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' });
      return;
    }
    if (ecr.error) {
      json(ecr.error.status ?? 400, { __type: ecr.error.type, message: ecr.error.message });
      return;
    }
    const expiresAt = ecr.expiresAt?.() ?? Date.now() + 12 * 3600_000;
    json(200, {
      authorizationData: [
        {
          authorizationToken: Buffer.from(`AWS:${ecr.password}`).toString('base64'),
          expiresAt: expiresAt / 1000,
          proxyEndpoint: `https://${account}.dkr.ecr.${auth.region}.amazonaws.com`,
        },
      ],
    });
  };

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      if (req.method !== 'POST') {
        res.writeHead(405).end();
        return;
      }
      if (req.headers['x-amz-target'] !== undefined) {
        await answerEcr(req, res, body);
        return;
      }
      const type = req.headers['content-type'] ?? '';
      if (type.startsWith('application/x-www-form-urlencoded')) {
        answerSts(res, new URLSearchParams(body.toString('utf8')));
        return;
      }
      res.writeHead(400, { 'content-type': 'text/plain' }).end('neither STS nor ECR');
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const host = await listenLoopback(server);
  return {
    url: `http://${host}`,
    stsCalls,
    ecrCalls,
    issued,
    ecr,
    sts,
    reset() {
      stsCalls.length = 0;
      ecrCalls.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
