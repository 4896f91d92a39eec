/** Plain GETs to a local server as the flood tests' clients send them: each may come from its own loopback address, give up and hang up. */
import { request, type Agent, type ClientRequest } from 'node:http';

export interface Sent {
  readonly status: number;
  readonly ms: number;
}

/** One GET; `localAddress` picks the loopback address it comes from (each flood client its own). */
export function get(
  port: number,
  path: string,
  options: { authorization?: string; agent?: Agent | false; localAddress?: string; timeoutMs?: number; onRequest?: (req: ClientRequest) => void } = {},
): Promise<Sent> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      agent: options.agent ?? false,
      localAddress: options.localAddress,
      headers: options.authorization ? { authorization: options.authorization } : {},
    });
    options.onRequest?.(req);
    // A client that gives up hangs up (and, in the flood, asks again).
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => req.destroy(new Error('gave up')), options.timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.end();
  });
}
