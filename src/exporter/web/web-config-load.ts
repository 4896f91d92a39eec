/**
 * Loading --web-config-file: the file and every file it names read at one time (with a fingerprint,
 * so a reload that changed nothing is seen as such), the certificates and key checked against each
 * other, and the TLS context options built. Secrets: as web-config.ts, no message quotes a key,
 * a hash or a line of a file.
 */
import { createHash, createPrivateKey, type X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { FlagError } from '../../flags/config.js';
import { pemCertificates } from '../../utils/pem-certificates.js';
import { parseWebConfig, WebConfigError, type PemSource, type Problem, type TlsSpec, type WebConfigSpec } from './web-config.js';

/** A web config ready to serve with. */
export interface WebConfig extends Omit<WebConfigSpec, 'tls'> {
  readonly file: string;
  readonly tls: LoadedTls | undefined;
  /** SHA-256 over the file and every file it names: equal fingerprints, equal configs. */
  readonly fingerprint: string;
}

export interface LoadedTls {
  readonly spec: TlsSpec;
  /** For https.createServer() and server.setSecureContext(). */
  readonly contextOptions: SecureContextOptions;
  readonly certNotAfter: Date;
}

/** The file's text and that of every file it names, read at one time. */
export interface WebConfigSources {
  readonly file: string;
  readonly spec: WebConfigSpec;
  /** PEM text by absolute path. */
  readonly files: ReadonlyMap<string, string>;
  readonly fingerprint: string;
}

async function readText(file: string, what: string, configFile: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new WebConfigError(configFile, `cannot read ${what} ${file}: ${code}`);
  }
}

/** Reads the file and the files it names; a problem with the file itself (not yet with their contents) throws. */
export async function readWebConfigSources(file: string): Promise<WebConfigSources> {
  const hash = createHash('sha256');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new WebConfigError(file, `cannot read the file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  hash.update(text).update('\0');
  let spec: WebConfigSpec;
  try {
    spec = parseWebConfig(text, file);
  } catch (error) {
    if (error instanceof WebConfigError) error.sourceDigest = createHash('sha256').update(text).digest('hex');
    throw error;
  }
  const files = new Map<string, string>();
  for (const source of [spec.tls?.cert, spec.tls?.key, spec.tls?.clientCa]) {
    if (!source || !('file' in source) || files.has(source.file)) continue;
    const content = await readText(source.file, source.field, file);
    files.set(source.file, content);
    hash.update(source.file).update('\0').update(content).update('\0');
  }
  return { file, spec, files, fingerprint: hash.digest('hex') };
}

function pemOf(source: PemSource, files: ReadonlyMap<string, string>): string {
  return 'inline' in source ? source.inline : (files.get(source.file) ?? '');
}

function describe(source: PemSource): string {
  return 'file' in source ? `${source.field} ${source.file}` : source.field;
}

function certificates(pem: string, source: PemSource, problem: Problem): X509Certificate[] {
  const found = pemCertificates(pem, (missing) =>
    problem(missing === 'none' ? `${describe(source)} holds no PEM certificate` : `${describe(source)} holds a certificate that cannot be parsed`),
  );
  return found.map(({ certificate }) => certificate);
}

/** Checks the certificates and the key and builds what the server needs; nothing is read here. */
export function buildWebConfig(sources: WebConfigSources): WebConfig {
  const { file, spec, files, fingerprint } = sources;
  const problem: Problem = (message) => {
    throw new WebConfigError(file, message);
  };
  let tls: LoadedTls | undefined;
  if (spec.tls) {
    const t = spec.tls;
    const certPem = pemOf(t.cert, files);
    const keyPem = pemOf(t.key, files);
    const [leaf] = certificates(certPem, t.cert, problem);
    let key;
    try {
      key = createPrivateKey(keyPem);
    } catch (error) {
      // OpenSSL's reason (e.g. "unsupported", "bad decrypt") quotes nothing of the key.
      const reason = (error as Error).message.split('\n')[0];
      problem(`${describe(t.key)} holds no usable private key (PEM, unencrypted): ${reason}`);
    }
    if (!leaf!.checkPrivateKey(key)) problem(`${describe(t.key)} does not belong to the certificate in ${describe(t.cert)}`);
    const clientCaPem = t.clientCa ? certificates(pemOf(t.clientCa, files), t.clientCa, problem).map((c) => c.toString()) : undefined;
    const contextOptions: SecureContextOptions = {
      cert: certPem,
      key: keyPem,
      ...(clientCaPem ? { ca: clientCaPem } : {}),
      minVersion: t.minVersion,
      maxVersion: t.maxVersion,
      ...(t.ciphers ? { ciphers: t.ciphers } : {}),
      ...(t.ecdhCurve ? { ecdhCurve: t.ecdhCurve } : {}),
      honorCipherOrder: t.honorCipherOrder,
    };
    try {
      createSecureContext(contextOptions);
    } catch (error) {
      problem(`tls_server_config cannot be used: ${(error as Error).message.split('\n')[0]}`);
    }
    tls = { spec: t, contextOptions, certNotAfter: new Date(leaf!.validTo) };
  }
  const warnings = [...spec.warnings];
  if (tls && tls.certNotAfter.getTime() < Date.now()) warnings.push(`the certificate in ${describe(tls.spec.cert)} expired on ${tls.certNotAfter.toISOString()}`);
  if (!tls && spec.users.size > 0) warnings.push('basic auth without tls_server_config: passwords cross the network in clear text');
  return { file, tls, users: spec.users, headers: spec.headers, rateLimit: spec.rateLimit, warnings, fingerprint };
}

/** Reads and checks the file and the files it names. */
export async function loadWebConfig(file: string): Promise<WebConfig> {
  return buildWebConfig(await readWebConfigSources(file));
}

/**
 * Start-up check of --web-config-file (main.ts): a bad file is a FlagError, exit code 2. `needsTls`
 * names a flag that needs tls_server_config in it (--admission-webhook).
 */
export async function checkWebConfigFile(file: string | undefined, needsTls?: 'admission-webhook'): Promise<void> {
  if (file === undefined) return;
  let config: WebConfig;
  try {
    config = await loadWebConfig(file);
  } catch (error) {
    if (error instanceof WebConfigError) throw new FlagError('web-config-file', error.message);
    throw error;
  }
  if (needsTls && !config.tls) throw new FlagError(needsTls, `needs tls_server_config in ${file}: the API server calls webhooks over HTTPS only`);
}
