/**
 * Why a registry could not be asked, in plain words with the fix where there is one: what an
 * operator reads in a status reason or a log line instead of an OpenSSL or libuv string. Pure.
 * The error code stays at the end, in parentheses, for searching and bug reports.
 */
import { boundedText, MAX_CODE_CHARS, MAX_REASON_CHARS } from '../utils/untrusted.js';

/** The failure as Node, undici or OpenSSL report it. */
export interface NetworkFailure {
  /** Error name: TimeoutError, AbortError, HTTPParserError, … */
  readonly name?: string;
  /** errno or library code: ECONNREFUSED, ERR_SSL_WRONG_VERSION_NUMBER, UND_ERR_SOCKET, … */
  readonly code?: string;
  readonly message: string;
}

/** Certificates a CA outside the trusted ones signed (or none did). */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
]);

const TIMEOUTS = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

const WORDS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused: nothing listens on that port',
  ENOTFOUND: 'the host name does not resolve (DNS): check the registry name',
  EAI_AGAIN: 'the host name could not be resolved just now (DNS lookup failed)',
  EHOSTUNREACH: 'host unreachable (routing or firewall)',
  ENETUNREACH: 'network unreachable (routing or firewall)',
  ECONNRESET: 'the connection was reset by the registry or a proxy in between',
  EPIPE: 'the connection was closed by the registry or a proxy in between',
  UND_ERR_SOCKET: 'the connection was closed by the registry or a proxy in between',
  UND_ERR_CLOSED: 'the connection was closed before the answer',
  UND_ERR_HEADERS_OVERFLOW: 'the answer has more headers than a registry sends',
  CERT_HAS_EXPIRED: 'its TLS certificate has expired',
  CERT_NOT_YET_VALID: "its TLS certificate is not valid yet (is this machine's clock right?)",
  ERR_TLS_CERT_ALTNAME_INVALID: 'its TLS certificate is for other host names than this one',
};

/** The reason in words, ending with the code: `connection refused: nothing listens on that port (ECONNREFUSED)`. */
export function networkReason(failure: NetworkFailure): string {
  // Messages may quote the peer (a certificate's names, a parser's view of the answer), and names
  // and codes come from wherever the error did: all bounded.
  const name = failure.name === undefined ? undefined : boundedText(String(failure.name), MAX_CODE_CHARS);
  const code = failure.code === undefined ? undefined : boundedText(String(failure.code), MAX_CODE_CHARS);
  const message = boundedText(String(failure.message), MAX_REASON_CHARS);
  const tag = (words: string) => `${words} (${code ?? name ?? 'error'})`;
  if (name === 'TimeoutError' || name === 'AbortError' || (code !== undefined && TIMEOUTS.has(code))) {
    return tag('no answer within --registry-timeout');
  }
  // OpenSSL's reading of an HTTP answer where a TLS handshake was expected.
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || /wrong version number|packet length too long|http request/i.test(message)) {
    return tag('speaks plain HTTP, not TLS: list it in --allow-plain-http');
  }
  // The HTTP parser's reading of a TLS handshake where an HTTP answer was expected.
  if (name === 'HTTPParserError' || code?.startsWith('HPE_')) {
    return tag('the answer is not HTTP (a TLS port spoken to over plain HTTP? then remove it from --allow-plain-http)');
  }
  if (code !== undefined && UNTRUSTED.has(code)) {
    return tag('its TLS certificate is signed by a CA this exporter does not trust: add that CA with --registry-ca-file');
  }
  if (code !== undefined && WORDS[code] !== undefined) return tag(WORDS[code]);
  if (code?.startsWith('ERR_TLS') || code?.startsWith('ERR_SSL') || /certificate|ssl|tls/i.test(message)) {
    return tag(`TLS handshake failed: ${message}`);
  }
  return code ? tag(message) : message;
}
