/**
 * --web-config-file: the Prometheus exporters' web configuration file (exporter-toolkit's format,
 * https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md): TLS for
 * the listener, client certificates, basic auth users with bcrypt hashes, extra response headers
 * and a rate limit. Parsed and checked whole, or refused with a WebConfigError naming the problem
 * (web-config-load.ts reads the files it names and builds the TLS context). Pure.
 *
 * Secrets: the messages name files, keys and user names, never a password hash, a private key or
 * a line of the file (a YAML error is reported by line and column only).
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { SecureVersion } from 'node:tls';
import { parseDocument } from 'yaml';
import { parseGoDuration } from '../../utils/duration.js';
import { z } from 'zod';
import { parseSchema } from '../../utils/schema.js';
import { isRecord, quoted } from '../../utils/untrusted.js';

export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

/** The client auth types that verify a client certificate, so need client CAs to verify it against. */
const VERIFYING: readonly ClientAuthType[] = ['VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'];

const TLS_VERSIONS: Readonly<Record<string, SecureVersion>> = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };
const VERSION_ORDER: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** Go's names (crypto/tls CipherSuites(), TLS 1.0–1.2) to OpenSSL's. */
const CIPHER_SUITES: Readonly<Record<string, string>> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
};
/** Go applies cipher_suites to TLS 1.2 and below only; TLS 1.3's suites stay enabled. */
const TLS13_SUITES = ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256'];

const CURVES: Readonly<Record<string, string>> = { CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519' };

/** The headers http_server_config.headers may set, and the values allowed where they are an enumeration. */
const HEADERS: Readonly<Record<string, readonly string[] | undefined>> = {
  'Strict-Transport-Security': undefined,
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': undefined,
  'Content-Security-Policy': undefined,
};

/** A bcrypt hash as htpasswd (`$2y$`), Go and bcryptjs (`$2a$`, `$2b$`) write it: cost 4–31, 22 characters of salt, 31 of hash. */
export const BCRYPT_HASH = /^\$2[aby]?\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

export class WebConfigError extends Error {
  /** SHA-256 of the text that was found bad, where the file could be read. */
  sourceDigest: string | undefined;

  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'WebConfigError';
  }
}

/** What the file says, checked, with relative paths resolved against the file's directory; no file it names read yet. */
export interface WebConfigSpec {
  readonly tls: TlsSpec | undefined;
  /** User name → bcrypt hash; empty: no basic auth. */
  readonly users: ReadonlyMap<string, string>;
  /** Response headers set on every answer. */
  readonly headers: ReadonlyMap<string, string>;
  readonly rateLimit: { readonly intervalMs: number; readonly burst: number } | undefined;
  readonly warnings: readonly string[];
}

export interface TlsSpec {
  readonly cert: PemSource;
  readonly key: PemSource;
  readonly clientCa: PemSource | undefined;
  readonly clientAuth: ClientAuthType;
  /** client_allowed_sans: the client certificate must have one of these SANs (exact match). */
  readonly allowedSans: readonly string[] | undefined;
  readonly minVersion: SecureVersion;
  readonly maxVersion: SecureVersion;
  /** OpenSSL cipher list, undefined: Node's defaults. */
  readonly ciphers: string | undefined;
  readonly ecdhCurve: string | undefined;
  readonly honorCipherOrder: boolean;
}

/** PEM text given inline (`cert`) or in a file (`cert_file`, an absolute path by now). */
export type PemSource = { readonly inline: string; readonly field: string } | { readonly file: string; readonly field: string };

export type Problem = (message: string) => never;

function quote(text: string): string {
  return quoted(text, 100);
}

/** A string field, '' as absent. */
const text = (field: string) =>
  z
    .string({ error: `${field} must be a string` })
    .nullish()
    .transform((value) => value || undefined);
const strings = (field: string) => z.array(z.string({ error: `${field} must be a list of strings` }), { error: `${field} must be a list of strings` }).nullish();
const bool = (field: string) => z.boolean({ error: `${field} must be true or false` }).nullish();

/** A mapping of known keys (absent: empty); an unknown key is refused before any value is read. */
function section<T extends z.ZodRawShape>(name: string, shape: T) {
  const known = Object.keys(shape);
  return z
    .custom<Record<string, unknown>>(isRecord, { error: `${name} must be a mapping` })
    .superRefine((value, ctx) => {
      const unknown = Object.keys(value).find((key) => !known.includes(key));
      if (unknown !== undefined) ctx.addIssue({ code: 'custom', message: `${name}: unknown key ${quote(unknown)} (known: ${known.join(', ')})` });
    })
    .pipe(z.object(shape))
    .nullish();
}

const tlsSchema = section('tls_server_config', {
  cert: text('tls_server_config.cert'),
  key: text('tls_server_config.key'),
  client_ca: text('tls_server_config.client_ca'),
  cert_file: text('tls_server_config.cert_file'),
  key_file: text('tls_server_config.key_file'),
  client_auth_type: text('tls_server_config.client_auth_type'),
  client_ca_file: text('tls_server_config.client_ca_file'),
  client_allowed_sans: strings('tls_server_config.client_allowed_sans'),
  min_version: text('tls_server_config.min_version'),
  max_version: text('tls_server_config.max_version'),
  cipher_suites: strings('tls_server_config.cipher_suites'),
  prefer_server_cipher_suites: bool('tls_server_config.prefer_server_cipher_suites'),
  curve_preferences: strings('tls_server_config.curve_preferences'),
});
type TlsSection = NonNullable<z.output<typeof tlsSchema>>;

const fileSchema = section('the file', {
  tls_server_config: z.unknown().optional(),
  http_server_config: z.unknown().optional(),
  basic_auth_users: z.unknown().optional(),
  rate_limit: z.unknown().optional(),
});

const httpSchema = section('http_server_config', {
  http2: bool('http_server_config.http2'),
  headers: z.custom<Record<string, unknown>>(isRecord, { error: 'http_server_config.headers must be a mapping' }).nullish(),
});

const rateSchema = section('rate_limit', {
  interval: z.string({ error: 'rate_limit.interval must be a duration such as 1s or 100ms' }).nullish(),
  burst: z
    .number({ error: 'rate_limit.burst must be a whole number' })
    .int({ error: 'rate_limit.burst must be a whole number' })
    .min(0, { error: 'rate_limit.burst must be a whole number' })
    .nullish(),
});

/** `value` read with `schema`, or the problem its first fault names. */
function read<S extends z.ZodType>(schema: S, value: unknown, problem: Problem): z.output<S> {
  const result = parseSchema(schema, value, 'is not valid');
  return result.ok ? result.value : problem(result.message);
}

function pemSource(tls: TlsSection, inlineKey: 'cert' | 'key' | 'client_ca', dir: string, problem: Problem): PemSource | undefined {
  const fileKey = `${inlineKey}_file` as const;
  const inline = tls[inlineKey];
  const file = tls[fileKey];
  if (inline !== undefined && file !== undefined) problem(`tls_server_config: give ${inlineKey} or ${fileKey}, not both`);
  if (file !== undefined) return { file: isAbsolute(file) ? file : resolve(dir, file), field: fileKey };
  if (inline !== undefined) return { inline, field: inlineKey };
  return undefined;
}

function tlsVersion(name: string | undefined, key: string, fallback: SecureVersion, problem: Problem): SecureVersion {
  if (name === undefined) return fallback;
  const version = TLS_VERSIONS[name];
  if (!version) problem(`tls_server_config.${key}: unknown TLS version ${quote(name)} (TLS10, TLS11, TLS12 or TLS13)`);
  return version;
}

function parseTls(value: unknown, dir: string, problem: Problem): TlsSpec | undefined {
  if (!isRecord(value) || Object.values(value).every((v) => v === undefined || v === null)) {
    read(tlsSchema, value, problem);
    return undefined;
  }
  const tls = read(tlsSchema, value, problem)!;
  const cert = pemSource(tls, 'cert', dir, problem);
  const key = pemSource(tls, 'key', dir, problem);
  const clientCa = pemSource(tls, 'client_ca', dir, problem);
  if (!cert) problem('tls_server_config needs cert_file (or cert)');
  if (!key) problem('tls_server_config needs key_file (or key)');

  const authName = tls.client_auth_type ?? 'NoClientCert';
  // exporter-toolkit still takes the old name of RequireAnyClientCert.
  const clientAuth = (authName === 'RequireClientCert' ? 'RequireAnyClientCert' : authName) as ClientAuthType;
  if (!CLIENT_AUTH_TYPES.includes(clientAuth)) {
    problem(`tls_server_config.client_auth_type: unknown type ${quote(authName)} (${CLIENT_AUTH_TYPES.join(', ')})`);
  }
  if (VERIFYING.includes(clientAuth) && !clientCa) {
    problem(`tls_server_config.client_auth_type ${clientAuth} needs client_ca_file (or client_ca): the CA certificates client certificates are verified against`);
  }
  if (clientCa && clientAuth === 'NoClientCert') {
    problem(`tls_server_config: ${clientCa.field} is set but client_auth_type is NoClientCert (set client_auth_type, e.g. RequireAndVerifyClientCert)`);
  }
  const allowedSans = tls.client_allowed_sans ?? undefined;
  if (allowedSans && clientAuth !== 'RequireAnyClientCert' && clientAuth !== 'RequireAndVerifyClientCert') {
    problem('tls_server_config.client_allowed_sans needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert');
  }

  const minVersion = tlsVersion(tls.min_version, 'min_version', 'TLSv1.2', problem);
  const maxVersion = tlsVersion(tls.max_version, 'max_version', 'TLSv1.3', problem);
  if (VERSION_ORDER.indexOf(minVersion) > VERSION_ORDER.indexOf(maxVersion)) problem('tls_server_config: min_version is above max_version');

  const suites = tls.cipher_suites;
  const ciphers = suites?.length
    ? [
        ...suites.map((name) => {
          const openssl = CIPHER_SUITES[name];
          if (!openssl && !TLS13_SUITES.includes(name)) problem(`tls_server_config.cipher_suites: unknown cipher suite ${quote(name)}`);
          return openssl;
        }).filter((s): s is string => s !== undefined),
        ...TLS13_SUITES,
      ].join(':')
    : undefined;
  const curves = tls.curve_preferences;
  const ecdhCurve = curves?.length
    ? curves.map((name) => CURVES[name] ?? problem(`tls_server_config.curve_preferences: unknown curve ${quote(name)} (${Object.keys(CURVES).join(', ')})`)).join(':')
    : undefined;
  return {
    cert: cert!,
    key: key!,
    clientCa,
    clientAuth,
    allowedSans,
    minVersion,
    maxVersion,
    ciphers,
    ecdhCurve,
    honorCipherOrder: tls.prefer_server_cipher_suites ?? true,
  };
}

function parseUsers(value: unknown, problem: Problem): Map<string, string> {
  const users = new Map<string, string>();
  if (value === undefined || value === null) return users;
  if (!isRecord(value)) problem('basic_auth_users must be a mapping of user names to bcrypt hashes');
  for (const [user, hash] of Object.entries(value)) {
    if (user === '') problem('basic_auth_users: a user name is empty');
    // Basic auth sends "user:password": a user name with a colon could never log in.
    if (user.includes(':')) problem(`basic_auth_users: user name ${quote(user)} contains ":"`);
    if (typeof hash !== 'string' || !BCRYPT_HASH.test(hash)) {
      problem(`basic_auth_users: the password of user ${quote(user)} is not a bcrypt hash ($2a$, $2b$ or $2y$, cost 4-31; e.g. from htpasswd -nBC 10 "")`);
    }
    users.set(user, hash);
  }
  return users;
}

function parseHttp(value: unknown, problem: Problem, warnings: string[]): Map<string, string> {
  const http = read(httpSchema, value, problem) ?? {};
  if (http.http2 === true) warnings.push('http_server_config.http2: HTTP/2 is not supported; serving HTTP/1.1');
  const headers = new Map<string, string>();
  for (const [name, text] of Object.entries(http.headers ?? {})) {
    if (!(name in HEADERS)) problem(`http_server_config.headers: header ${quote(name)} cannot be configured (${Object.keys(HEADERS).join(', ')})`);
    if (text === null || text === undefined || text === '') continue; // blank: unset
    if (typeof text !== 'string' || /[\r\n\0]/.test(text)) problem(`http_server_config.headers.${name} must be a one-line string`);
    const allowed = HEADERS[name];
    if (allowed && !allowed.includes(text)) problem(`http_server_config.headers.${name} must be ${allowed.join(' or ')}, got ${quote(text)}`);
    headers.set(name, text);
  }
  return headers;
}

function parseRateLimit(value: unknown, problem: Problem): WebConfigSpec['rateLimit'] {
  const rate = read(rateSchema, value, problem) ?? {};
  let intervalMs = 0;
  if (rate.interval !== undefined && rate.interval !== null) {
    try {
      intervalMs = parseGoDuration(rate.interval);
    } catch (error) {
      problem(`rate_limit.interval: ${(error as Error).message}`);
    }
    if (intervalMs < 0) problem('rate_limit.interval must not be negative');
  }
  const burst = rate.burst ?? 0;
  if (intervalMs === 0) return undefined; // exporter-toolkit: interval 0 turns the limiter off
  // A token bucket holding no token would refuse every request.
  if (burst < 1) problem('rate_limit.burst must be at least 1 when rate_limit.interval is set');
  return { intervalMs, burst };
}

/** Parses and checks the file's text; `file` names it in errors and resolves relative paths. */
export function parseWebConfig(text: string, file: string): WebConfigSpec {
  const problem: Problem = (message) => {
    throw new WebConfigError(file, message);
  };
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const [error] = doc.errors;
  if (error) {
    // Only the first line: the rest quotes the file, which may hold a hash or a private key.
    problem(`invalid YAML: ${(error.message.split('\n')[0] ?? error.code).replace(/:$/, '')}`);
  }
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    problem(`invalid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const top = read(fileSchema, root, problem);
  const warnings: string[] = [];
  const dir = dirname(resolve(file));
  return {
    tls: parseTls(top?.tls_server_config, dir, problem),
    headers: parseHttp(top?.http_server_config, problem, warnings),
    users: parseUsers(top?.basic_auth_users, problem),
    rateLimit: parseRateLimit(top?.rate_limit, problem),
    warnings,
  };
}
