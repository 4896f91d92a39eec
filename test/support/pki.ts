/**
 * Throwaway PKI for tests: a CA, a server certificate for loopback (TLS registry) and a
 * signing certificate (token issuer JWTs, verified by the registry against the CA).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir } from './tmp.js';

const run = promisify(execFile);

export interface Pki {
  dir: string;
  caCertFile: string;
  caCertPem: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** RSA private key (PKCS#8 PEM) the token issuer signs JWTs with. */
  signingKeyPem: string;
  signingCertFile: string;
  signingCertPem: string;
}

function randomSerial(): string {
  const bytes = randomBytes(12);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // keep it positive
  return bytes.toString('hex');
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr || String(err)}`);
  }
}

/** Issues `name`.key/.crt signed by the CA in `dir`, with the given X.509v3 extensions. */
async function issueLeaf(dir: string, name: string, cn: string, extensions: string): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(dir, [
    'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`,
    '-out', `${name}.csr`, '-subj', `/CN=${cn}`,
  ]);
  await openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key',
    // Explicit random serial: -CAcreateserial would race on ca.srl between the parallel leaves.
    '-set_serial', `0x${randomSerial()}`,
    '-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`,
  ]);
}

export async function createPki(dir?: string): Promise<Pki> {
  const root = dir ?? (await makeTempDir('pki'));
  await openssl(root, [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt',
    '-days', '2', '-sha256', '-subj', '/CN=k8s-image-existence-exporter test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await Promise.all([
    issueLeaf(root, 'server', 'localhost', [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost',
      '',
    ].join('\n')),
    issueLeaf(root, 'signing', 'token-issuer', [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      '',
    ].join('\n')),
  ]);
  const read = (name: string): Promise<string> => readFile(join(root, name), 'utf8');
  const [caCertPem, signingKeyPem, signingCertPem] = await Promise.all([
    read('ca.crt'), read('signing.key'), read('signing.crt'),
  ]);
  return {
    dir: root,
    caCertFile: join(root, 'ca.crt'),
    caCertPem,
    serverCertFile: join(root, 'server.crt'),
    serverKeyFile: join(root, 'server.key'),
    signingKeyPem,
    signingCertFile: join(root, 'signing.crt'),
    signingCertPem,
  };
}
