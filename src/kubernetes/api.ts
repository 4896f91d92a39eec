/**
 * What a failed Kubernetes API call says, whether it came from @kubernetes/client-node (its
 * ApiException) or from the list reader (shaped like one). Imports nothing of client-node: every
 * module that reads the API's errors can be loaded without it (see engine.ts loadCluster).
 */

/** HTTP status of a failed API call (ApiException.code), if it got that far. */
export function apiStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

/** A short, secret-free description of an API failure for logs and metrics. */
export function describeApiError(error: unknown): string {
  const status = apiStatus(error);
  if (status !== undefined) {
    const body = (error as { body?: unknown }).body;
    let message: string | undefined;
    if (typeof body === 'string') {
      try {
        message = (JSON.parse(body) as { message?: string }).message;
      } catch {
        message = undefined;
      }
    } else if (body && typeof body === 'object') {
      message = (body as { message?: string }).message;
    }
    return `HTTP ${status}${message ? `: ${message.slice(0, 300)}` : ''}`;
  }
  const err = error as { name?: string; message?: string; code?: string };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return 'request timed out';
  return `${err?.code ? `${err.code}: ` : ''}${(err?.message ?? String(error)).slice(0, 300)}`;
}

