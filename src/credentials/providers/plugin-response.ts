/**
 * A plugin's CredentialProviderResponse, read as the kubelet reads it for the plugin's configured
 * apiVersion, and bounded: at most MAX_AUTH_ENTRIES entries, counted before any is read, each key,
 * username and password of a bounded length. Messages quote nothing the plugin printed. Pure.
 */
import { z } from 'zod';
import { parseGoDuration } from '../../utils/duration.js';
import { parseSchema } from '../../utils/schema.js';
import { MAX_REASON_CHARS, MAX_SECRET_CHARS } from '../../utils/untrusted.js';
import { Keyring } from '../keyring.js';
import { PLUGIN_API_VERSIONS } from './plugin-config.js';
import { RunFailure } from './plugin-process.js';

/**
 * The most auth entries one answer may hold: real plugins answer one to a handful (ECR one, GCP's
 * about five). A longer answer is refused, not cut (another entry could be the one the kubelet
 * would pick): 65,000 entries fit in MAX_RESPONSE_BYTES, and parsed and indexed they held 39 MB and
 * took 2.5-9 s of the event loop each (measured, Node 20).
 */
export const MAX_AUTH_ENTRIES = 64;
/** What an answer weighs at least, besides its entries (see MAX_CACHED_CHARS). */
const ANSWER_BASE_CHARS = 256;
const RESPONSE_KIND = 'CredentialProviderResponse';

export type ResponseSchema = ReturnType<typeof responseSchema>;
export type CacheKeyType = z.output<ResponseSchema>['cacheKeyType'];

/**
 * A CredentialProviderResponse for a plugin configured with `apiVersion`. Its messages quote none of
 * what the plugin printed: only a known apiVersion is named (anything else could be a secret).
 */
export function responseSchema(apiVersion: string) {
  const entryTooLong = `answered with an auth entry too long (keys up to ${MAX_REASON_CHARS} characters, username and password up to ${MAX_SECRET_CHARS})`;
  const credential = z
    .string({ error: 'answered with an invalid auth entry (username and password must be strings)' })
    // Kept while cached, per image at worst: nothing longer than a registry token or an image pattern.
    .max(MAX_SECRET_CHARS, { error: entryTooLong })
    .optional();
  const entry = z.object({ username: credential, password: credential }, { error: 'answered with an invalid auth entry (must hold username and password)' });
  const auth = z
    .record(z.string(), z.unknown(), { error: 'answered with an invalid auth (must map images to username and password)' })
    // Counted before any entry is read (see MAX_AUTH_ENTRIES).
    .refine((pairs) => Object.keys(pairs).length <= MAX_AUTH_ENTRIES, { error: `answered with more than ${MAX_AUTH_ENTRIES} auth entries`, abort: true })
    .pipe(z.record(z.string().max(MAX_REASON_CHARS), entry, { error: entryTooLong }));
  return z.object(
    {
      apiVersion: z.literal(apiVersion, {
        error: ({ input }) => {
          const actual = (PLUGIN_API_VERSIONS as readonly unknown[]).includes(input) ? `"${String(input)}"` : input === undefined ? 'none' : 'an unknown one';
          return `answered with apiVersion ${actual}, expected "${apiVersion}"`;
        },
      }),
      kind: z.literal(RESPONSE_KIND, { error: `answered with a kind other than ${RESPONSE_KIND}` }),
      cacheKeyType: z.enum(['Image', 'Registry', 'Global'], { error: 'answered with an invalid cacheKeyType (must be Image, Registry or Global)' }),
      cacheDuration: z
        .string({ error: 'answered with an invalid cacheDuration (must be a duration string)' })
        .transform((text, ctx) => {
          try {
            return Math.max(0, parseGoDuration(text));
          } catch {
            ctx.issues.push({ code: 'custom', input: text, message: 'answered with an invalid cacheDuration (must be a duration such as "5m")' });
            return z.NEVER;
          }
        })
        .nullish(),
      auth: auth.nullish(),
    },
    { error: 'printed JSON that is not a CredentialProviderResponse object' },
  );
}

export interface AuthEntry {
  readonly key: string;
  readonly username: string;
  readonly password: string;
}

/** A valid response: how to cache it, what it weighs, and its credentials as a keyring. */
export interface ParsedResponse {
  readonly keyType: CacheKeyType;
  readonly cacheDurationMs: number | undefined;
  readonly chars: number;
  readonly auth: Keyring<AuthEntry>;
}

/** Validates stdout as a CredentialProviderResponse; RunFailure with a reason that quotes none of it. */
export function parseResponse(stdout: Buffer, schema: ResponseSchema): ParsedResponse {
  const invalid = (reason: string): never => {
    throw new RunFailure(reason, '');
  };
  let body: unknown;
  try {
    body = JSON.parse(stdout.toString('utf8'));
  } catch {
    return invalid('printed no valid JSON response on stdout');
  }
  const parsed = parseSchema(schema, body, 'answered with an invalid CredentialProviderResponse');
  if (!parsed.ok) return invalid(parsed.message);
  const { cacheKeyType, cacheDuration, auth } = parsed.value;
  const entries: AuthEntry[] = [];
  let chars = ANSWER_BASE_CHARS;
  for (const [key, { username = '', password = '' }] of Object.entries(auth ?? {})) {
    entries.push({ key, username, password });
    chars += key.length + username.length + password.length;
  }
  return { keyType: cacheKeyType, cacheDurationMs: cacheDuration ?? undefined, chars, auth: Keyring.of(entries) };
}
