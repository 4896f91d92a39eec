/**
 * What every list against one API server shares (one per KubeConfig, so the workload, namespace,
 * node and service-account readers draw on the same budget): a bound on the lists in flight, shared
 * fairly between resources, and keep-alive connections that the pages reuse.
 *
 * Why: scoped to 300 namespaces, a refresh wants 6 kinds × 300 namespaces = 1,800 lists at once,
 * and client-node's KubeConfig makes a new Agent (so a new TLS connection) for every request. Run as
 * they came, they held 1,800 connections and their buffers (334–340 MiB, over the deployed 320Mi)
 * and the first scrape missed its deadline. A handful in flight over reused connections lists the
 * same in a fraction of the time: each namespaced list is small, so round trips dominate, not
 * bandwidth.
 */
import { createHash } from 'node:crypto';
import { Agent as HttpAgent, type AgentOptions as HttpAgentOptions } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { FairLimiter } from '../utils/fair-limiter.js';

/** Lists in flight against one API server, over all resources and namespaces. */
export const LISTS_IN_FLIGHT = 6;
/** Connections kept: the lists' plus a couple for discovery documents, which are not queued. */
const MAX_SOCKETS = LISTS_IN_FLIGHT + 2;
/** An idle connection is closed before servers and proxies (often 60–90 s) close it under a request. */
const IDLE_MS = 30_000;

export class ApiConnections {
  /** Keyed by resource (the path without its namespace): a slow or hanging kind holds only its share. */
  private readonly limiter = new FairLimiter(LISTS_IN_FLIGHT, LISTS_IN_FLIGHT);
  private current: { readonly key: string; readonly agent: HttpAgent } | undefined;

  /** Runs one whole list (all its pages) when the bound allows, in turn with other resources. */
  runList<T>(path: string, list: () => Promise<T>): Promise<T> {
    return this.limiter.run(resourceOf(path), list);
  }

  /**
   * A keep-alive agent with the TLS settings of `perRequest` (the Agent client-node made for one
   * request from the kubeconfig), the same one for as long as those settings stay the same. A proxy
   * agent is returned as it is: it has its own connection handling.
   */
  reuse(perRequest: unknown): unknown {
    const https = perRequest instanceof HttpsAgent && perRequest.constructor === HttpsAgent;
    const http = !https && perRequest instanceof HttpAgent && perRequest.constructor === HttpAgent;
    if (!https && !http) return perRequest;
    const options = (perRequest as HttpAgent & { options: HttpsAgentOptions }).options;
    const key = tlsKey(https, options);
    if (this.current?.key === key) return this.current.agent;
    // Credentials changed (a rotated client certificate, a new CA file): new connections from now on;
    // the old agent's idle ones close after IDLE_MS, its busy ones when their requests end.
    const shared: HttpAgentOptions = { ...options, keepAlive: true, maxSockets: MAX_SOCKETS, maxFreeSockets: MAX_SOCKETS, timeout: IDLE_MS, scheduling: 'lifo' };
    const agent = https ? new HttpsAgent(shared) : new HttpAgent(shared);
    this.current = { key, agent };
    return agent;
  }
}

const connections = new WeakMap<KubeConfig, ApiConnections>();

/** The connections and list budget of the API server `kubeConfig` talks to. */
export function apiConnections(kubeConfig: KubeConfig): ApiConnections {
  let shared = connections.get(kubeConfig);
  if (!shared) {
    shared = new ApiConnections();
    connections.set(kubeConfig, shared);
  }
  return shared;
}

/** `/apis/apps/v1/namespaces/team-a/deployments?x` → `/apis/apps/v1/deployments`. */
export function resourceOf(path: string): string {
  return path.replace(/[?#].*$/s, '').replace(/\/namespaces\/[^/]+(?=\/)/, '');
}

/** What decides whether a connection may be reused for a request: the TLS material and checks. */
function tlsKey(https: boolean, options: HttpsAgentOptions): string {
  const hash = createHash('sha256').update(https ? 'https' : 'http');
  for (const field of ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const) {
    const value = options[field];
    const parts = Array.isArray(value) ? value : [value];
    hash.update(`\n${field}:`);
    for (const part of parts) {
      if (part === undefined || part === null) continue;
      if (typeof part === 'string' || Buffer.isBuffer(part)) hash.update(part).update('\0');
      else hash.update(JSON.stringify(part)).update('\0');
    }
  }
  return hash.digest('hex');
}
