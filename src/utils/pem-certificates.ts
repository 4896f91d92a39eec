/**
 * The certificates in PEM text (a --registry-ca-file bundle, the web config's cert and client_ca):
 * each `BEGIN CERTIFICATE` block, parsed. What the text lacks is the caller's to word, naming its
 * flag or field. Pure.
 */
import { X509Certificate } from 'node:crypto';

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export interface PemCertificate {
  /** The block as written, BEGIN and END lines included. */
  readonly pem: string;
  readonly certificate: X509Certificate;
}

/** The blocks in order; `fail('none')` when there is none, `fail('unparsable')` at the first that does not parse. */
export function pemCertificates(text: string, fail: (problem: 'none' | 'unparsable') => never): PemCertificate[] {
  const blocks = text.match(CERTIFICATE) ?? [];
  if (blocks.length === 0) fail('none');
  return blocks.map((pem) => {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(pem);
    } catch {
      return fail('unparsable');
    }
    return { pem, certificate };
  });
}
