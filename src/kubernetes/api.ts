/** Shared plumbing for talking to the Kubernetes API through @kubernetes/client-node. */
import {
  Observable,
  type ConfigurationOptions,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';

/** Per-call options that bound a request's time (client-node has no timeout of its own). */
export function withTimeout(timeoutMs: number): ConfigurationOptions {
  const middleware: ObservableMiddleware = {
    pre: (context: RequestContext) => {
      context.setSignal(AbortSignal.timeout(timeoutMs));
      return new Observable(Promise.resolve(context));
    },
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
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

