/**
 * Where a node pulls one image from: the one model behind `--image-mirror`, containerd's hosts
 * directory and CRI-O's registries.conf. Each source of configuration turns a reference into a
 * PullPlan; the engine asks the places in order and decideVerdict() lets only the place with the
 * last word prove absence. Pure.
 */
import { createHash } from 'node:crypto';
import type { ImageReference } from './reference.js';

/**
 * TLS beyond the transport's defaults (system roots + --registry-ca-file) for one endpoint. The
 * transport keeps one dispatcher (TLS context, connections) per object: give every plan to the same
 * configured endpoint the same object.
 */
export interface EndpointTls {
  /** CA certificates (PEM) trusted for this endpoint, in addition to the defaults. */
  readonly caPems?: readonly string[];
  /** A client certificate and its key (PEM), presented to this endpoint. */
  readonly clientCertPem?: string;
  readonly clientKeyPem?: string;
  /** Do not verify the endpoint's certificate (containerd `skip_verify`, registries.conf `insecure`). */
  readonly skipVerify?: boolean;
}

/**
 * How one place is reached when it is not the registry's own default API endpoint
 * (`https://<apiHost>/v2`, plain HTTP only for --allow-plain-http hosts).
 */
export interface Endpoint {
  readonly scheme: 'https' | 'http';
  /** host[:port] connected to. */
  readonly host: string;
  /**
   * The path under which `<repository>/manifests/<reference>` is asked, without a trailing slash:
   * `/v2` normally, `/prefix/v2` for a URL with a path, the path as written for containerd's
   * `override_path`.
   */
  readonly apiPath: string;
  readonly tls?: EndpointTls;
  /** Extra request headers (containerd's `header`). Never secrets we log: only their names are shown. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Query parameters added to manifest requests (containerd adds `ns=<registry>` for mirrors). */
  readonly query?: Readonly<Record<string, string>>;
  /**
   * containers/image `insecure = true`: HTTPS without verifying the certificate, then plain HTTP
   * when HTTPS cannot connect.
   */
  readonly httpFallback?: boolean;
}

/** One place a node may pull an image from, in the order it tries them. */
export interface PullSource {
  /**
   * The image as this place is asked for it. `registry` is the name credentials are matched by
   * (a mirror's own host for a mirror); `repository` as the place serves it.
   */
  readonly ref: ImageReference;
  /** Has the last word on absence: the original registry, or the last place when there is no original. */
  readonly authoritative: boolean;
  /** How to reach it; the registry's default API endpoint when undefined. */
  readonly endpoint?: Endpoint;
}

/** What a node does with one image: pull it from these places in order. */
export interface PullPlan {
  readonly sources: readonly PullSource[];
  /**
   * The node's configuration refuses the image's registry (registries.conf `blocked`), and says why.
   * The sources are then only mirrors it may still try (none authoritative): an image none of them
   * serves has the status `blocked`, never `absent`.
   */
  readonly blocked?: string;
}

/** One source of "where nodes pull from": the flags, a hosts directory, a registries.conf. */
export interface PullPlaces {
  /** `ref` is normalized (docker.io/library/…) and already moved by --default-registry. */
  plan(ref: ImageReference): PullPlan;
}

/**
 * The header names as a short digest, once per headers object: every image's cache key holds the
 * key of each of its places, so the names themselves would make each key as long as the file's list.
 */
const headerDigests = new WeakMap<Readonly<Record<string, string>>, string>();

function headersDigest(headers: Readonly<Record<string, string>>): string {
  let digest = headerDigests.get(headers);
  if (digest === undefined) {
    const names = Object.keys(headers).sort();
    digest = `${names.length}:${createHash('sha256').update(names.join('\n')).digest('hex').slice(0, 16)}`;
    headerDigests.set(headers, digest);
  }
  return digest;
}

/** A stable text naming an endpoint (for cache keys and logs; header values left out, names digested). */
export function endpointKey(endpoint: Endpoint): string {
  const tls = endpoint.tls;
  const parts = [`${endpoint.scheme}://${endpoint.host}${endpoint.apiPath}`];
  if (endpoint.query) parts.push(`?${new URLSearchParams(Object.entries(endpoint.query)).toString()}`);
  if (endpoint.httpFallback) parts.push('http-fallback');
  if (tls?.skipVerify) parts.push('skip-verify');
  if (tls?.caPems?.length) parts.push(`ca:${tls.caPems.length}`);
  if (tls?.clientCertPem) parts.push('client-cert');
  if (endpoint.headers) parts.push(`headers:${headersDigest(endpoint.headers)}`);
  return parts.join(' ');
}
