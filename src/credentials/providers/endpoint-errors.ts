/**
 * What a cloud credential endpoint's failure says, in words safe to log and show: why no answer
 * came, and what an error answer's body says (never the body as such, never a secret). Shared by
 * the GCP and ACR providers. Pure.
 */
import { networkReason } from '../../registry/network-reason.js';
import { boundedText, errorCodeOf, MAX_CODE_CHARS, redactSecrets } from '../../utils/untrusted.js';

/** Why a request got no answer, in words (undici puts the socket's error in `cause` at times). */
export function reachReason(error: unknown, timeoutMs: number): string {
  const failure = (error ?? {}) as { name?: unknown; code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } };
  const inner = failure.cause && typeof failure.cause === 'object' ? failure.cause : undefined;
  const name = typeof failure.name === 'string' ? failure.name : undefined;
  // DOMExceptions (an aborted request) carry a numeric code: only string codes name the failure.
  const stringCode = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const code = stringCode(failure.code) ?? stringCode(inner?.code);
  if (name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return `no answer within ${timeoutMs / 1000} s (${code ?? name})`;
  }
  return networkReason({ name, code, message: String(failure.message ?? inner?.message ?? 'unknown error') });
}

/**
 * What an error answer says, in a form safe to show: the OAuth-style `error` code of a JSON body,
 * or the first line of a text body (the GKE metadata server explains IAM refusals there), with
 * anything long enough to be a credential cut out. Never the body as such.
 */
export function errorDetail(body: string): string {
  const text = body.trim();
  if (text === '') return '';
  try {
    const parsed = JSON.parse(text) as { error?: unknown; error_description?: unknown };
    const description = typeof parsed?.error_description === 'string' ? parsed.error_description : undefined;
    const parts = [errorCodeOf(parsed?.error), description && safeLine(description)].filter((part): part is string => Boolean(part));
    return parts.length > 0 ? `: ${parts.join(': ')}` : '';
  } catch {
    if (/^\s*</.test(text)) return ''; // an HTML error page says nothing an operator can use
    const line = safeLine(text.split(/\r?\n/, 1)[0] ?? '');
    return line ? `: ${line}` : '';
  }
}

/** One line, at most MAX_CODE_CHARS characters, control characters and secrets (redactSecrets) removed. */
function safeLine(line: string): string {
  return boundedText(redactSecrets(line.replace(/[\u0000-\u001f\u007f]/g, ' ')).trim(), MAX_CODE_CHARS);
}
