/**
 * Reads a Kubernetes list (GET of a collection such as /apis/apps/v1/deployments) page by page as a
 * stream of items, each reduced at once by the caller's `trim` and then dropped. Neither a page nor
 * an object is kept whole, and nothing is converted into client-node's model classes: memory
 * follows what the callers keep, not the size of the objects, whatever the page size.
 *
 * client-node's KubeConfig still decides the server URL, TLS, proxy and authentication (tokens,
 * exec plugins, client certificates), so every kubeconfig that worked with its generated API works
 * here.
 */
import { foregroundFinished } from '../utils/yield.js';
import type { IncomingMessage } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { KubeConfig } from '@kubernetes/client-node';
import { isRecord, readBounded } from '../utils/untrusted.js';
import { VERSION } from '../utils/version.js';
import { apiStatus } from './api.js';
import { apiConnections, type ApiConnections } from './api-connections.js';
import { ListFormatError, ListScanner } from './list-scanner.js';

export interface ListOptions {
  /**
   * Ask for `resourceVersion=0`: served from the API server's watch cache (objects and labels in
   * memory) instead of read and decoded from etcd; the answer may lag etcd by moments. Servers up
   * to at least 1.20 then ignore `limit` and answer in one body, so only for lists that are small
   * (a selective labelSelector).
   */
  readonly fromWatchCache?: boolean;
}

export interface ListReaderOptions {
  /** `limit` of each page. */
  readonly pageSize: number;
  /** Bound on each page's request, body included. */
  readonly requestTimeoutMs: number;
  /** Ask for gzip (default). The benchmark turns it off to compare. */
  readonly compressed?: boolean;
}

/**
 * A non-2xx answer, shaped like client-node's ApiException (numeric `code`, text `body`) so
 * apiStatus() and describeApiError() read it the same way.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: number,
    readonly body: string,
    path: string,
  ) {
    super(`HTTP ${code} from GET ${path}`);
  }
}

/** An error answer is a Status object (a few hundred bytes); more is not worth holding. */
const ERROR_BODY_LIMIT = 64 * 1024;
/** A discovery document is a few KB; one that is not is not read whole. */
const DOCUMENT_LIMIT = 1024 * 1024;
/** Restarts after an expired continue token (410 Gone) before the list is given up. */
const MAX_RESTARTS = 2;

export class ListReader {
  /** Shared by every reader of this KubeConfig: lists in flight are bounded, connections reused. */
  private readonly connections: ApiConnections;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly options: ListReaderOptions,
  ) {
    this.connections = apiConnections(kubeConfig);
  }

  /**
   * Every item of the collection at `path`, each passed through `trim` (which sees the object as
   * parsed JSON, shaped as the caller declares; undefined leaves the item out). Rejects with
   * ApiError, ListFormatError or the transport's error when the list cannot be read whole: never a
   * partial list. Waits its turn while LISTS_IN_FLIGHT lists run against the API server.
   */
  list<O extends object, T>(path: string, trim: (object: O) => T | undefined, options: ListOptions = {}): Promise<T[]> {
    return this.connections.runList(path, () => this.listNow(path, trim, options));
  }

  private async listNow<O extends object, T>(path: string, trim: (object: O) => T | undefined, options: ListOptions): Promise<T[]> {
    for (let restarts = 0; ; restarts++) {
      const items: T[] = [];
      let token: string | undefined;
      try {
        do {
          token = await this.page(path, token, options, (object) => {
            const item = trim(object as O);
            if (item !== undefined) items.push(item);
          });
        } while (token);
        return items;
      } catch (error) {
        // A continue token expires with etcd compaction (410 Gone): start over, as kubectl does.
        if (apiStatus(error) === 410 && token !== undefined && restarts < MAX_RESTARTS) continue;
        throw error;
      }
    }
  }

  /**
   * A small JSON document that is not a list (API discovery: /apis/GROUP/VERSION); rejects with
   * ApiError on a non-2xx answer.
   */
  async document<T>(path: string): Promise<T> {
    return this.get(path, new URLSearchParams(), async (response) => {
      const body = response.headers['content-encoding'] === 'gzip' ? pipeline(response, createGunzip(), () => undefined) : response;
      try {
        return JSON.parse((await readBounded(body, DOCUMENT_LIMIT, { keepWhatArrived: true })).text) as T;
      } catch {
        throw new ListFormatError(`GET ${path} answered something that is not JSON`);
      }
    });
  }

  /** Reads one page, handing each item to onItem; returns the continue token, if any. */
  private page(path: string, token: string | undefined, list: ListOptions, onItem: (object: object) => void): Promise<string | undefined> {
    const params = new URLSearchParams({ limit: String(this.options.pageSize) });
    if (token !== undefined) params.set('continue', token);
    // A continue token carries its own version; the server refuses both together.
    else if (list.fromWatchCache) params.set('resourceVersion', '0');
    return this.get(path, params, async (response) => {
      const encoding = response.headers['content-encoding'];
      const gzipped = encoding === 'gzip' && this.options.compressed !== false;
      if (encoding !== undefined && encoding !== 'identity' && !gzipped) {
        response.destroy();
        throw new ListFormatError(`list answered with content-encoding ${encoding}, which was not asked for`);
      }
      const scanner = new ListScanner((item) => {
        if (!isRecord(item)) throw new ListFormatError('malformed list JSON: an item is not an object');
        onItem(item);
      });
      // pipeline() destroys the response if decoding fails (a broken gzip stream is an error, never a short list).
      const body = gzipped ? pipeline(response, createGunzip(), () => undefined) : response;
      for await (const chunk of body) {
        // A listing is for later scrapes: it waits while an answer is being finished (src/utils/yield.ts).
        const answering = foregroundFinished();
        if (answering) await answering;
        scanner.push(chunk as Buffer);
      }
      return scanner.end().continueToken;
    });
  }

  /** One GET of `path` with `params`, its 2xx answer read by `read`, bounded by the request timeout. */
  private async get<T>(path: string, params: URLSearchParams, read: (response: IncomingMessage) => Promise<T>): Promise<T> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the Kubernetes configuration names no current cluster');
    // The server URL may carry a path prefix (API proxies): append, as client-node does.
    const url = new URL(cluster.server.replace(/\/+$/, '') + path);
    for (const [name, value] of params) url.searchParams.set(name, value);

    const options: RequestOptions = { method: 'GET', headers: {} };
    // Authorization (token, exec plugin, token file), client certificate, CA, proxy agent.
    await this.kubeConfig.applyToHTTPSOptions(options);
    // client-node makes a new Agent per call: one kept-alive agent per TLS setting instead.
    options.agent = this.connections.reuse(options.agent) as RequestOptions['agent'];
    // gzip: a list of 10,000 real Deployments is ~124 MB of JSON and ~4 MB compressed; the API
    // server compresses large answers anyway (kubectl asks too), and zlib decodes off the main thread.
    options.headers = {
      ...options.headers,
      accept: 'application/json',
      ...(this.options.compressed === false ? {} : { 'accept-encoding': 'gzip' }),
      'user-agent': `k8s-image-existence-exporter/${VERSION}`,
    };
    const signal = AbortSignal.timeout(this.options.requestTimeoutMs);
    options.signal = signal;

    try {
      const response = await request(url, options);
      const status = response.statusCode ?? 0;
      if (status < 200 || status > 299) throw new ApiError(status, (await readBounded(response, ERROR_BODY_LIMIT, { keepWhatArrived: true })).text, path);
      return await read(response);
    } catch (error) {
      // An abort mid-body surfaces as a bare "aborted" socket error, and the signal's own reason
      // (a DOMException) has a numeric `code` that would pass for an HTTP status: say what happened.
      // A status already received says more than its error body timing out.
      if (signal.aborted && !(error instanceof ApiError)) {
        const timeout = new Error(`GET ${path} timed out after ${this.options.requestTimeoutMs} ms`, { cause: error });
        timeout.name = 'TimeoutError';
        throw timeout;
      }
      throw error;
    }
  }
}

/**
 * A GET; once more on a fresh connection when a kept-alive one turns out to have been closed by the
 * server before the request got an answer (the race every keep-alive client has; a GET is safe to repeat).
 */
async function request(url: URL, options: RequestOptions): Promise<IncomingMessage> {
  try {
    return await requestOnce(url, options);
  } catch (error) {
    if (!(error as { reusedSocket?: boolean }).reusedSocket || options.signal?.aborted) throw error;
    const code = (error as { code?: unknown }).code;
    if (code !== 'ECONNRESET' && code !== 'EPIPE') throw error;
    return requestOnce(url, options);
  }
}

function requestOnce(url: URL, options: RequestOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options, resolve);
    // Stays attached: a late socket error after the response must not be an uncaught 'error'.
    request.on('error', (error) => reject(Object.assign(error, { reusedSocket: request.reusedSocket })));
    request.end();
  });
}
