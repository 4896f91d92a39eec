/**
 * --admission-client-ca-file: a review is answered only over a TLS connection whose client
 * certificate one of these CAs signed (the API server's, from its admission configuration's
 * kubeconfig). Checked per request on the webhook's path alone: /metrics keeps the web config's own
 * client_auth_type. The leaf must be signed by the CA directly (no intermediates), and both must be
 * valid now.
 */
import { readFile } from 'node:fs/promises';
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { FlagError } from '../../flags/syntax.js';
import { pemCertificates } from '../../utils/pem-certificates.js';

/** The CAs of the file; a FlagError naming the flag when it cannot be read or holds none. */
export async function readClientCas(file: string): Promise<X509Certificate[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new FlagError('admission-client-ca-file', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return pemCertificates(text, (problem) => {
    throw new FlagError('admission-client-ca-file', problem === 'none' ? `${file} holds no PEM certificate` : `${file} holds a certificate that does not parse`);
  }).map((c) => c.certificate);
}

function validAt(certificate: X509Certificate, now: number): boolean {
  return Date.parse(certificate.validFrom) <= now && now <= Date.parse(certificate.validTo);
}

/** Why this connection may not ask for a review, or undefined when its client certificate is one of the CAs'. */
export function clientCertRefusal(socket: Pick<TLSSocket, 'getPeerX509Certificate'> | undefined, cas: readonly X509Certificate[], now = Date.now()): string | undefined {
  const leaf = socket?.getPeerX509Certificate?.();
  if (!leaf) return 'no client certificate (--admission-client-ca-file)';
  if (!validAt(leaf, now)) return 'client certificate expired or not valid yet';
  const signed = cas.some((ca) => validAt(ca, now) && leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
  return signed ? undefined : 'client certificate not signed by a CA of --admission-client-ca-file';
}
