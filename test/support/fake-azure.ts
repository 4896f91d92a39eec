/**
 * Azure's side of workload identity, faithfully enough for the real @azure/identity (MSAL inside)
 * and for ACR's token exchange:
 * - startFakeEntra: an HTTPS Microsoft Entra authority (test PKI) serving the tenant's OpenID
 *   configuration, instance discovery, and `POST /<tenant>/oauth2/v2.0/token` for the client
 *   credentials grant with a federated client assertion. It checks what Entra checks: the tenant,
 *   the client id, the assertion type, and that the assertion is the federated (projected
 *   ServiceAccount) token it was told to expect; a mismatch is answered with Entra's error
 *   (AADSTS700213/700016/…); and records every request with its form.
 * - acrExchange: ACR's `POST /oauth2/exchange` (on the registry host), for the intercept of a
 *   recording proxy (proxy.ts) in front of a real registry: `grant_type=access_token`, `service`
 *   the registry's host, `tenant`, and an Entra access token the fake authority issued; answers
 *   `{refresh_token}` or ACR's `{"errors":[…]}`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { listenLoopback } from './listen.js';
import type { Pki } from './pki.js';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/**
 * A JWT-shaped token (unsigned: a random signature). Random claims come first, so that the first
 * 72 bytes (all bcrypt, and so an htpasswd registry, compares) differ from token to token.
 */
export function fakeJwt(claims: Record<string, unknown>): string {
  const header = b64url({ alg: 'RS256', typ: 'JWT' });
  const payload = b64url({ jti: randomUUID(), ...claims });
  return `${header}.${payload}.${randomBytes(32).toString('base64url')}`;
}

/**
 * An ACR refresh token as ACR issues them: a JWT whose `exp` says when it expires. Fewer claims
 * than ACR's, so that it fits htpasswd's 255 characters (the registry takes it as a password).
 */
export function acrRefreshToken(service: string, expiresAtSeconds: number | undefined): string {
  return fakeJwt({
    ...(expiresAtSeconds === undefined ? {} : { exp: expiresAtSeconds }),
    aud: service,
    grant_type: 'refresh_token',
  });
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export interface EntraRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The form of a POST. */
  form: Record<string, string> | undefined;
}

export interface FakeEntraOptions {
  pki: Pki;
  tenantId: string;
  clientId: string;
  /** The content of the projected ServiceAccount token file: the only assertion accepted. */
  federatedToken: string;
  /** expires_in of issued tokens (seconds; default 3599). */
  expiresIn?: number;
}

export interface FakeEntra {
  /** https://127.0.0.1:PORT: what AZURE_AUTHORITY_HOST holds. */
  readonly url: string;
  readonly requests: EntraRequest[];
  /** Access tokens issued, in order. */
  readonly issued: string[];
  /** Answers every token request with this Entra error. */
  failWith: { status: number; error: string; code: number; description: string } | undefined;
  delayMs: number;
  tokenRequests(): EntraRequest[];
  stop(): Promise<void>;
}

function entraError(res: ServerResponse, status: number, error: string, code: number, description: string): void {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  json(res, status, {
    error,
    error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  });
}

export async function startFakeEntra(options: FakeEntraOptions): Promise<FakeEntra> {
  const requests: EntraRequest[] = [];
  const issued: string[] = [];
  const state: Pick<FakeEntra, 'failWith' | 'delayMs'> = { failWith: undefined, delayMs: 0 };
  let base = '';

  const openIdConfiguration = (tenant: string) => ({
    token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${base}/${tenant}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${base}/oidc/userinfo`,
    authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce'],
    kerberos_endpoint: `${base}/${tenant}/kerberos`,
    tenant_region_scope: 'EU',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
    rbac_url: 'https://pas.windows.net',
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://entra');
    const form = req.method === 'POST' ? await readForm(req) : undefined;
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: { ...req.headers }, form: form ? Object.fromEntries(form) : undefined });
    if (state.delayMs > 0) await sleep(state.delayMs);
    if (res.destroyed) return;
    const host = req.headers.host ?? '';

    if (req.method === 'GET' && url.pathname === '/common/discovery/instance') {
      json(res, 200, {
        tenant_discovery_endpoint: `${base}/${options.tenantId}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      });
      return;
    }
    const wellKnown = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(url.pathname);
    if (req.method === 'GET' && wellKnown) {
      const tenant = wellKnown[1] as string;
      if (tenant !== options.tenantId) {
        json(res, 400, { error: 'invalid_tenant', error_description: `AADSTS90002: Tenant '${tenant}' not found.`, error_codes: [90002] });
        return;
      }
      json(res, 200, openIdConfiguration(tenant));
      return;
    }
    const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
    if (req.method === 'POST' && token && form) {
      if (state.failWith) {
        const { status, error, code, description } = state.failWith;
        entraError(res, status, error, code, description);
        return;
      }
      if (token[1] !== options.tenantId) {
        entraError(res, 400, 'invalid_tenant', 90002, `Tenant '${token[1]}' not found.`);
        return;
      }
      if (form.get('grant_type') !== 'client_credentials') {
        entraError(res, 400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
        return;
      }
      if (form.get('client_id') !== options.clientId) {
        entraError(res, 400, 'unauthorized_client', 700016, `Application with identifier '${form.get('client_id')}' was not found in the directory.`);
        return;
      }
      if (form.get('client_assertion_type') !== CLIENT_ASSERTION_TYPE) {
        entraError(res, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_assertion_type'.");
        return;
      }
      if (form.get('client_assertion') !== options.federatedToken) {
        entraError(res, 400, 'invalid_client', 700213, 'No matching federated identity record found for presented assertion subject.');
        return;
      }
      const scope = form.get('scope') ?? '';
      if (!scope.split(' ').some((s) => s.endsWith('/.default'))) {
        entraError(res, 400, 'invalid_scope', 1002012, 'The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.');
        return;
      }
      const expiresIn = options.expiresIn ?? 3599;
      const resource = scope.split(' ').find((s) => s.endsWith('/.default'))?.replace(/\/\.default$/, '');
      const accessToken = fakeJwt({ aud: resource, iss: `https://sts.windows.net/${options.tenantId}/`, tid: options.tenantId, appid: options.clientId, exp: Math.floor(Date.now() / 1000) + expiresIn });
      issued.push(accessToken);
      json(res, 200, { token_type: 'Bearer', expires_in: expiresIn, ext_expires_in: expiresIn, access_token: accessToken });
      return;
    }
    json(res, 404, { error: 'not_found' });
  };

  const server = createHttpsServer(
    { cert: await readFile(options.pki.serverCertFile), key: await readFile(options.pki.serverKeyFile) },
    (req, res) => void handle(req, res).catch((error: unknown) => res.destroy(error as Error)),
  );
  const address = await listenLoopback(server);
  base = `https://${address}`;

  return Object.assign(state, {
    url: base,
    requests,
    issued,
    tokenRequests: () => requests.filter((r) => r.method === 'POST' && /\/oauth2\/v2\.0\/token$/.test(new URL(r.path, 'https://entra').pathname)),
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  });
}

export interface ExchangeRequest {
  /** The Host header (ACR checks `service` against it). */
  host: string | undefined;
  contentType: string | undefined;
  form: Record<string, string>;
}

export interface AcrExchangeOptions {
  tenantId: string;
  /** Whether Entra issued this access token (e.g. `fake.issued.includes`). */
  accepts: (accessToken: string) => boolean;
  /** The refresh tokens handed out, in order; the last one again when they run out. */
  refreshTokens: string[];
}

export interface AcrExchange {
  /** For startRecordingProxy's `intercept`: answers POST /oauth2/exchange, forwards the rest. */
  intercept(req: IncomingMessage, res: ServerResponse): boolean;
  readonly requests: ExchangeRequest[];
  readonly issued: string[];
  /** Answers every exchange with this status and ACR error (e.g. 503). */
  failWith: { status: number; code: string; message: string } | undefined;
  delayMs: number;
}

export function acrExchange(options: AcrExchangeOptions): AcrExchange {
  const queue = [...options.refreshTokens];
  let last: string | undefined;
  const exchange: AcrExchange = {
    requests: [],
    issued: [],
    failWith: undefined,
    delayMs: 0,
    intercept(req, res) {
      if (new URL(req.url ?? '/', 'https://registry').pathname !== '/oauth2/exchange') return false;
      void answer(req, res).catch((error: unknown) => res.destroy(error as Error));
      return true;
    },
  };
  const refuse = (res: ServerResponse, status: number, code: string, message: string): void =>
    json(res, status, { errors: [{ code, message, detail: null }] });

  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const form = await readForm(req);
    exchange.requests.push({ host: req.headers.host, contentType: req.headers['content-type'], form: Object.fromEntries(form) });
    if (exchange.delayMs > 0) await sleep(exchange.delayMs);
    if (res.destroyed) return;
    if (exchange.failWith) {
      refuse(res, exchange.failWith.status, exchange.failWith.code, exchange.failWith.message);
      return;
    }
    if (req.method !== 'POST') {
      refuse(res, 405, 'UNSUPPORTED', 'The operation is unsupported.');
      return;
    }
    if (!req.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) {
      refuse(res, 400, 'BAD_REQUEST', 'content type must be application/x-www-form-urlencoded');
      return;
    }
    if (form.get('grant_type') !== 'access_token') {
      refuse(res, 400, 'UNSUPPORTED_GRANT_TYPE', 'grant type not supported');
      return;
    }
    if (form.get('service') !== req.headers.host) {
      refuse(res, 401, 'UNAUTHORIZED', 'service does not match the registry');
      return;
    }
    if (form.get('tenant') !== options.tenantId) {
      refuse(res, 401, 'UNAUTHORIZED', 'tenant does not match the access token');
      return;
    }
    const accessToken = form.get('access_token') ?? '';
    if (!options.accepts(accessToken)) {
      refuse(res, 401, 'UNAUTHORIZED', 'authentication required, visit https://aka.ms/acr/authorization for more information.');
      return;
    }
    const refreshToken = queue.shift() ?? last;
    if (refreshToken === undefined) throw new Error('acrExchange: no refresh token to hand out');
    last = refreshToken;
    exchange.issued.push(refreshToken);
    json(res, 200, { refresh_token: refreshToken });
  };
  return exchange;
}
