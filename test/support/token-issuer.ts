/**
 * Minimal Docker registry token server (the "realm" of `WWW-Authenticate: Bearer`).
 * Issues RS256 JWTs whose x5c chains to the test CA, which the registry trusts through
 * `auth.token.rootcertbundle`.
 */
import { createPrivateKey, randomUUID, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Pki } from './pki.js';
import { listenLoopback } from './listen.js';

export interface GrantRequest {
  /** Basic-auth username, or null for an anonymous token request. */
  subject: string | null;
  repository: string;
  actions: string[];
}

export interface AccessEntry {
  type: 'repository';
  name: string;
  actions: string[];
}

export interface TokenIssuerOptions {
  pki: Pki;
  /** Must equal the registry's `auth.token.service`; becomes the JWT audience. */
  service: string;
  /** username -> password. Basic credentials not listed here are answered 401. */
  users?: Record<string, string>;
  /** Actions to grant. Default: what is asked to authenticated users, pull-only to anonymous. */
  grant?: (req: GrantRequest) => string[];
  /** Token lifetime in seconds (default 300). */
  expiresIn?: number;
  tokenField?: 'token' | 'access_token' | 'both';
}

export interface TokenRequestRecord {
  authorization: string | undefined;
  query: URLSearchParams;
}

export interface TokenIssuer {
  /** http://127.0.0.1:PORT/token */
  realm: string;
  /** Value of the `iss` claim; the registry's `auth.token.issuer` must match. */
  issuer: string;
  service: string;
  requests: TokenRequestRecord[];
  mintToken(subject: string | null, access: AccessEntry[]): string;
  stop(): Promise<void>;
}

const ISSUER = 'k8s-image-existence-exporter-test-issuer';

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Parses `repository:NAME:pull,push`; NAME may itself contain ':' only in theory, so split at the ends. */
function parseScope(scope: string): { type: string; name: string; actions: string[] } | null {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return null;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope.slice(last + 1).split(',').filter((a) => a !== ''),
  };
}

type Credentials = { ok: true; subject: string | null } | { ok: false };

function checkBasic(header: string | undefined, users: Record<string, string>): Credentials {
  if (header === undefined) return { ok: true, subject: null };
  const match = /^Basic\s+(.+)$/i.exec(header);
  if (!match?.[1]) return { ok: false };
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const sep = decoded.indexOf(':');
  if (sep < 0) return { ok: false };
  const user = decoded.slice(0, sep);
  const password = decoded.slice(sep + 1);
  return Object.hasOwn(users, user) && users[user] === password ? { ok: true, subject: user } : { ok: false };
}

export async function startTokenIssuer(opts: TokenIssuerOptions): Promise<TokenIssuer> {
  const users = opts.users ?? {};
  const expiresIn = opts.expiresIn ?? 300;
  const tokenField = opts.tokenField ?? 'token';
  const grant =
    opts.grant ??
    ((req: GrantRequest): string[] => (req.subject === null ? req.actions.filter((a) => a === 'pull') : req.actions));
  const signingKey: KeyObject = createPrivateKey(opts.pki.signingKeyPem);
  const x5c = [new X509Certificate(opts.pki.signingCertPem).raw.toString('base64')];
  const requests: TokenRequestRecord[] = [];

  const mintToken = (subject: string | null, access: AccessEntry[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c };
    const claims = {
      iss: ISSUER,
      sub: subject ?? '',
      aud: opts.service,
      exp: now + expiresIn,
      // Backdated a little: the registry rejects tokens "not yet valid" on clock skew.
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(signingInput), signingKey);
    return `${signingInput}.${base64url(signature)}`;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (url.pathname !== '/token') return send(404, { errors: [{ code: 'NOT_FOUND' }] });
    if (req.method !== 'GET') return send(405, { errors: [{ code: 'UNSUPPORTED' }] });
    requests.push({ authorization: req.headers.authorization, query: url.searchParams });

    const creds = checkBasic(req.headers.authorization, users);
    if (!creds.ok) {
      return send(401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid credentials' }] }, {
        'www-authenticate': 'Basic realm="token"',
      });
    }
    const access: AccessEntry[] = [];
    // Scopes may come as repeated params and/or space-separated in one param.
    for (const raw of url.searchParams.getAll('scope').flatMap((s) => s.split(' '))) {
      const scope = parseScope(raw);
      if (scope?.type !== 'repository') continue;
      const actions = grant({ subject: creds.subject, repository: scope.name, actions: scope.actions });
      // An entry with no actions (rather than none) is what Docker Hub hands out for a missing repo.
      access.push({ type: 'repository', name: scope.name, actions });
    }
    const token = mintToken(creds.subject, access);
    const body: Record<string, string | number> = { expires_in: expiresIn, issued_at: new Date().toISOString() };
    if (tokenField === 'token' || tokenField === 'both') body['token'] = token;
    if (tokenField === 'access_token' || tokenField === 'both') body['access_token'] = token;
    send(200, body);
  };

  const server = createServer(handle);
  const address = await listenLoopback(server);

  return {
    realm: `http://${address}/token`,
    issuer: ISSUER,
    service: opts.service,
    requests,
    mintToken,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
