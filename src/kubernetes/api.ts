/** Shared plumbing for talking to the Kubernetes API through @kubernetes/client-node. */
import type { ConfigurationOptions, KubeConfig, RequestContext, ResponseContext } from '@kubernetes/client-node';

/**
 * Per-call options that bound a request's time (client-node has no timeout of its own).
 * The object API's types name observable middleware, but at run time it wraps promise middleware
 * (PromiseAPI's wrapOptions), which is what this is.
 */
export function withTimeout(timeoutMs: number): ConfigurationOptions {
  const middleware = {
    pre: async (context: RequestContext) => {
      context.setSignal(AbortSignal.timeout(timeoutMs));
      return context;
    },
    post: async (response: ResponseContext) => response,
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' } as unknown as ConfigurationOptions;
}

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

export type { KubeConfig };
