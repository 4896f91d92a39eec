/**
 * Reading a schema-shaped untrusted format (the web config, the plugin config, a plugin's response)
 * with zod: every schema names its own messages (which say the field at fault and never quote a
 * value), and a fault the schema did not word gets `fallback`, never zod's own message (which may
 * quote the input). The first fault in the schema's order is the one reported, as the checks it
 * replaced did.
 */
import type { z } from 'zod';

/** The parsed value, or the message and path of its first fault. */
export function parseSchema<S extends z.ZodType>(
  schema: S,
  input: unknown,
  fallback: string,
): { ok: true; value: z.output<S> } | { ok: false; message: string; path: readonly PropertyKey[] } {
  const result = schema.safeParse(input, { error: () => fallback });
  if (result.success) return { ok: true, value: result.data };
  const first = result.error.issues[0];
  return { ok: false, message: first?.message ?? fallback, path: first?.path ?? [] };
}
