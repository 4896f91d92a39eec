/**
 * Reading what others control: values of untrusted JSON (API objects, manifests, registry
 * documents), where each accessor answers the type asked for or nothing and never throws; the
 * bounds on untrusted text and HTTP bodies; and how such text is shown in a message (quoted, cut,
 * secrets blanked out).
 *
 * The rule (README, "Reliability"): every input that a tenant, a registry, a plugin, a scraper or a
 * file controls has a size bound where it enters and is read on a linear-time path, and no
 * unauthenticated request can make an authenticated or health request wait. A new input gets its
 * bound here or beside its reader, with a test that sends more than the bound.
 */
import type { Readable } from 'node:stream';

/** A JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The array, or an empty one for anything else. */
export function arrayOf(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

export function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Text that others control (a registry, a token service, a credential plugin, a cloud endpoint) is
 * kept only this long: an error code, a digest, a host or another identifier…
 */
export const MAX_CODE_CHARS = 200;
/** …and a reason or message. Past the bound the text is cut (see boundedText). */
export const MAX_REASON_CHARS = 1000;
/**
 * A token or password others hand out (registry tokens and plugins' passwords are one or two KiB) is
 * kept while it lasts, per repository or image: a longer one is refused, never cut.
 */
export const MAX_SECRET_CHARS = 16 * 1024;

/**
 * `text` at most `max` characters long: a longer one is cut, keeping its start and saying so
 * (`…(cut, 60000 chars)`). The result is always a fresh copy: a short piece of a huge string (a
 * header, a body) may otherwise be kept as a slice of it, and keep all of it alive.
 */
export function boundedText(text: string, max: number): string {
  if (text.length <= max) return copyOf(text);
  const mark = `…(cut, ${text.length} chars)`;
  let keep = Math.max(0, max - mark.length);
  // Never half a surrogate pair.
  const last = text.charCodeAt(keep - 1);
  if (keep > 0 && last >= 0xd800 && last <= 0xdbff) keep--;
  return `${copyOf(text.slice(0, keep))}${mark}`.slice(0, max);
}

/** `text` quoted (JSON) for a message: its first `max` characters and `…` when it is longer. */
export function quoted(text: string, max: number): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/**
 * `text` with whatever is shaped like a secret replaced by `[redacted]`: a JWT, an AWS secret access
 * key (40 base64 characters), and any run of 64 or more token characters — base64 (a session
 * token), or base64url and token68 (a Google access or refresh token). A base64url run stops at `/`,
 * so a long path (`assumed-role/<role>/<session>`) keeps its readable parts. For error messages of
 * SDKs and cloud endpoints, which may quote what they were given.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(/eyJ[\w-]*\.[\w-]*\.[\w-]*/g, '[redacted]')
    .replace(/(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=])/g, '[redacted]')
    .replace(/[A-Za-z0-9+/=]{64,}/g, '[redacted]')
    .replace(/[A-Za-z0-9._~+=-]{64,}/g, '[redacted]');
}

/** The start of an HTTP body (a registry's, a cloud endpoint's, the API server's), as text. */
export interface BoundedBody {
  readonly text: string;
  /** The body reached the bound, so may go on past what was read: `text` is its start only. */
  readonly truncated: boolean;
}

/**
 * At most `maxBytes` of `body`; the rest of the stream is dropped, not read. A body that breaks off
 * rejects, unless `keepWhatArrived` (an error body, whose status says what matters): then what
 * arrived is the answer.
 */
export async function readBounded(body: Readable, maxBytes: number, options: { keepWhatArrived?: boolean } = {}): Promise<BoundedBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const buffer = chunk as Buffer;
      chunks.push(buffer);
      size += buffer.length;
      if (size >= maxBytes) break;
    }
  } catch (error) {
    if (!options.keepWhatArrived) throw error;
  } finally {
    // Destroying an unfinished body emits 'error' (undici's); unheard, that event would crash the process.
    body.on('error', () => undefined).destroy();
  }
  return { text: Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8'), truncated: size >= maxBytes };
}

/** A flat copy that shares no memory with `text` (V8 keeps substrings as slices of their parent). */
function copyOf(text: string): string {
  // Concatenation gives a cons string, which slice() flattens into new memory first.
  return text.length < 13 ? text : ` ${text}`.slice(1);
}

/** An error code others sent (OAuth's `error`, MSAL's), if it looks like one: word characters, dots and dashes, at most 64. */
export function errorCodeOf(value: unknown): string | undefined {
  return typeof value === 'string' && /^[\w.-]{1,64}$/.test(value) ? value : undefined;
}

/** A content digest as the distribution spec writes one (`algorithm:encoded`). */
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** A digest, if `value` is one of reasonable length (sha512's is 135 characters); else undefined. */
export function digestOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.length <= MAX_CODE_CHARS && DIGEST.test(value) ? copyOf(value) : undefined;
}
