/**
 * More certificates for a test PKI (test/support/pki.ts): client certificates (extendedKeyUsage
 * clientAuth) and further server certificates, signed by a Pki's CA, and a second, unrelated CA.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Pki } from './pki.js';
import { makeTempDir } from './tmp.js';

const run = promisify(execFile);

export interface IssuedCert {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  readonly keyPem: string;
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    throw new Error(`openssl ${args[0]} failed: ${(err as { stderr?: string }).stderr || String(err)}`);
  }
}

/** A CA (ca.crt, ca.key) in a new temp dir, unrelated to any other. */
export async function createCa(name = 'other test CA'): Promise<{ dir: string; caCertFile: string }> {
  const dir = await makeTempDir('ca');
  await openssl(dir, [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt',
    '-days', '2', '-sha256', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { dir, caCertFile: join(dir, 'ca.crt') };
}

/**
 * Issues `<name>.crt`/`<name>.key` in `ca.dir`, signed by the CA there (ca.crt, ca.key):
 * a client certificate, or a server certificate for loopback.
 */
export async function issueCert(
  ca: Pick<Pki, 'dir'>,
  name: string,
  options: { readonly usage: 'client' | 'server'; readonly cn?: string; readonly san?: string } ,
): Promise<IssuedCert> {
  const { dir } = ca;
  const san = options.san ?? (options.usage === 'server' ? 'IP:127.0.0.1,IP:::1,DNS:localhost' : 'DNS:prometheus.monitoring.svc');
  await writeFile(
    join(dir, `${name}.ext`),
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=${options.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
      `subjectAltName=${san}`,
      '',
    ].join('\n'),
  );
  await openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${options.cn ?? name}`]);
  const serial = randomBytes(12);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  await openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${serial.toString('hex')}`,
    '-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`,
  ]);
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  return { certFile, keyFile, certPem: await readFile(certFile, 'utf8'), keyPem: await readFile(keyFile, 'utf8') };
}
