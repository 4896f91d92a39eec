/**
 * The PEM certificate reader that --registry-ca-file and the web config share, and the messages
 * each words from it.
 */
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { FlagError } from '../../src/flags/config.js';
import { pemCertificates } from '../../src/utils/pem-certificates.js';
import { readCaFiles } from '../../src/engine/startup-files.js';
import { createPki, type Pki } from '../support/pki.js';
import { makeTempDir } from '../support/tmp.js';

const GARBLED = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n';

let pki: Pki;
let dir: string;

beforeAll(async () => {
  [pki, dir] = await Promise.all([createPki(), makeTempDir('pem')]);
});

const refusal = (problem: string): never => {
  throw new Error(problem);
};

describe('pemCertificates', () => {
  test('every block in order, as written, parsed; text around them is passed over', () => {
    const bundle = `# the CA\n${pki.caCertPem}\nand the signer\n${pki.signingCertPem}`;
    const found = pemCertificates(bundle, refusal);
    expect(found.map(({ certificate }) => certificate.fingerprint256)).toStrictEqual([
      new X509Certificate(pki.caCertPem).fingerprint256,
      new X509Certificate(pki.signingCertPem).fingerprint256,
    ]);
    expect(found.map(({ pem }) => pem)).toStrictEqual([pki.caCertPem.trim(), pki.signingCertPem.trim()]);
  });

  test('no block, or one that does not parse', () => {
    expect(() => pemCertificates('no certificate here', refusal)).toThrow('none');
    expect(() => pemCertificates(`${pki.caCertPem}${GARBLED}`, refusal)).toThrow('unparsable');
  });
});

describe('readCaFiles', () => {
  test('the blocks of every file, in order', async () => {
    const first = join(dir, 'first.pem');
    await writeFile(first, `${pki.caCertPem}\n${pki.signingCertPem}`);
    expect(await readCaFiles([first, pki.caCertFile])).toStrictEqual([pki.caCertPem.trim(), pki.signingCertPem.trim(), (await readFile(pki.caCertFile, 'utf8')).trim()]);
  });

  test.each([
    ['empty.pem', 'nothing', 'contains no PEM certificate'],
    ['garbled.pem', GARBLED, 'contains a certificate that cannot be parsed'],
  ])('%s: a flag error naming the file', async (name, text, problem) => {
    const file = join(dir, name);
    await writeFile(file, text);
    const error = await readCaFiles([file]).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(FlagError);
    expect((error as FlagError).message).toBe(`invalid flag --registry-ca-file: ${file} ${problem}`);
    expect((error as FlagError).flag).toBe('registry-ca-file');
  });
});
