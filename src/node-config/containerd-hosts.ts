/**
 * containerd's hosts directory (`config_path`, `ctr --hosts-dir`) read as containerd 1.6/1.7 reads it
 * (remotes/docker/config/hosts.go, resolver.go), turned into pull plans. Pure: the loader
 * (containerd-hosts-load.ts) reads the files and hands their text and PEMs in.
 *
 * What containerd does, and this module with it:
 * - the directory for `host:port` is `host_port_`, then `host:port`, then `_default`;
 * - `hosts.toml`: the `[host."…"]` entries in file order, then `server` (or, without one, the
 *   registry's own default endpoint: docker.io → https://registry-1.docker.io, a loopback registry
 *   over plain HTTP without verification, anything else https) — always last;
 * - a file without any `[host."…"]` table, an empty file or none: containerd ignores the file's
 *   settings and uses the directory's Docker-style certificates (`*.crt` CAs, `*.cert`/`*.key`
 *   pairs) for the registry's default endpoint (1.6/1.7 fail on the missing table and fall back);
 * - a tag is resolved only by hosts that may `pull` and `resolve`; a digest by hosts that may `pull`;
 * - a host whose name is not the registry's gets `?ns=<registry>` on its manifest requests.
 * Where containerd logs a broken file and falls back, this module throws NodeConfigError instead,
 * so the operator hears of it (the caller keeps the last good configuration).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { posix } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import type { Endpoint, EndpointTls, PullPlaces, PullPlan, PullSource } from '../image/pull-plan.js';
import { DOCKER_HUB, withLocation, type ImageReference } from '../image/reference.js';
import { isRecord } from '../utils/untrusted.js';
import { NodeConfigError } from './node-config-error.js';

export const CAPABILITY_PULL = 1;
export const CAPABILITY_RESOLVE = 2;
export const CAPABILITY_PUSH = 4;
const ALL_CAPABILITIES = CAPABILITY_PULL | CAPABILITY_RESOLVE | CAPABILITY_PUSH;
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
/**
 * `[host]` tables in one hosts.toml. containerd sets no limit, but every image's plan holds each
 * host (objects and a cache key ~600 bytes per host and image): 20,000 hosts in a 1 MiB file made
 * each image cost 13 MB and 140 ms. Nodes list a few mirrors.
 */
export const MAX_HOSTS = 16;
/** Headers of one host, and their names and values together: sent with every request to it. */
export const MAX_HEADERS = 64;
export const MAX_HEADER_BYTES = 16 * 1024;
/** Set by the HTTP client itself: Go leaves them out of a request's header map, undici refuses some. */
const CLIENT_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'trailer', 'connection', 'keep-alive', 'upgrade', 'expect', 'te']);

/** One host of a hosts directory, as parsed: file paths not yet read. */
export interface HostConfig {
  /** '' with host '' for "the registry's default endpoint" (no `server`). */
  readonly scheme: 'http' | 'https' | '';
  readonly host: string;
  /** API root as containerd joins it before the repository: `/v2`, `/x/v2`, or the override path. */
  readonly path: string;
  readonly capabilities: number;
  readonly caFiles: readonly string[];
  /** [certificate file, key file]; the key file undefined when the certificate file holds the key too. */
  readonly clientPairs: readonly (readonly [string, string | undefined])[];
  readonly skipVerify: boolean | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;
}

/** A host with its files read: the PEMs the loader found at caFiles / clientPairs. */
export interface LoadedHost extends HostConfig {
  readonly caPems: readonly string[];
  readonly client: { readonly certPem: string; readonly keyPem: string } | undefined;
}

/** The directory names containerd tries for a registry host, in order (hostPaths in config_unix.go). */
export function hostDirCandidates(host: string): string[] {
  const colon = host.lastIndexOf(':');
  const candidates = colon > 0 ? [`${host.slice(0, colon)}_${host.slice(colon + 1)}_`] : [];
  return [...candidates, host, '_default'];
}

function fail(file: string, message: string): never {
  throw new NodeConfigError(`${file}: ${message}`);
}

function makeAbsPath(path: string, dir: string): string {
  return posix.isAbsolute(path) ? path : posix.join(dir, path);
}

function stringList(value: readonly unknown[], file: string, what: string): string[] {
  return value.map((item) => (typeof item === 'string' ? item : fail(file, `${what} must hold strings, got ${describe(item)}`)));
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (isRecord(value)) return 'a table';
  return `${typeof value} ${JSON.stringify(String(value)).slice(0, 40)}`;
}

/**
 * `server` or a `[host."…"]` key: without a scheme it is https (containerd prefixes anything not
 * starting with "http"); the path gets `/v2` unless it ends with it or `override_path` is set.
 */
function parseServer(server: string, overridePath: boolean, file: string, what: string): Pick<HostConfig, 'scheme' | 'host' | 'path'> {
  const url = server.startsWith('http') ? server : `https://${server}`;
  // A host name or address with an optional port: anything else could never be connected to.
  const match = /^(https?):\/\/([A-Za-z0-9.-]+(?::\d+)?|\[[0-9A-Fa-f:.]+\](?::\d+)?)(\/[^?#\s]*)?$/.exec(url);
  if (!match) {
    // containerd takes anything starting with "http" for a URL: `http-cache:5000` would be no host at all.
    const hint = server.startsWith('http') && !/^https?:\/\//.test(server) ? ' (containerd reads a name starting with "http" as a URL: write https:// before it)' : '';
    fail(file, `${what} ${JSON.stringify(server)} is not a registry URL such as https://mirror.example.com:5000/path${hint}`);
  }
  const [, scheme, host = '', rawPath = ''] = match;
  let path = rawPath === '' ? '' : posix.normalize(rawPath).replace(/(.)\/+$/, '$1');
  if (!overridePath && !path.endsWith('/v2')) path = `${path}/v2`;
  return { scheme: scheme as 'http' | 'https', host, path };
}

/** One table of a hosts.toml (the top level for `server`, or a `[host."…"]` table). */
function parseHostTable(server: string, table: Record<string, unknown>, dir: string, file: string, what: string): HostConfig {
  const bool = (key: string): boolean | undefined => {
    const value = table[key];
    if (value === undefined || typeof value === 'boolean') return value;
    return fail(file, `${what}: ${key} must be true or false, got ${describe(value)}`);
  };
  const overridePath = bool('override_path') ?? false;
  const location = server === '' ? { scheme: '' as const, host: '', path: '' } : parseServer(server, overridePath, file, what);

  let capabilities = 0;
  const caps = table['capabilities'];
  if (caps !== undefined && !Array.isArray(caps)) fail(file, `${what}: capabilities must be an array such as ["pull", "resolve"], got ${describe(caps)}`);
  for (const cap of stringList(caps ?? [], file, `${what}: capabilities`)) {
    const bit = { pull: CAPABILITY_PULL, resolve: CAPABILITY_RESOLVE, push: CAPABILITY_PUSH }[cap.toLowerCase()];
    if (bit === undefined) fail(file, `${what}: unknown capability ${JSON.stringify(cap)} (pull, resolve or push)`);
    capabilities |= bit;
  }
  // An empty or missing list means every capability, as in containerd.
  if (capabilities === 0) capabilities = ALL_CAPABILITIES;

  const ca = table['ca'];
  let caFiles: string[] = [];
  if (typeof ca === 'string') caFiles = [makeAbsPath(ca, dir)];
  else if (Array.isArray(ca)) caFiles = stringList(ca, file, `${what}: ca`).map((p) => makeAbsPath(p, dir));
  else if (ca !== undefined) fail(file, `${what}: ca must be a file or an array of files, got ${describe(ca)}`);

  const client = table['client'];
  const clientPairs: (readonly [string, string | undefined])[] = [];
  if (typeof client === 'string') clientPairs.push([makeAbsPath(client, dir), undefined]);
  else if (Array.isArray(client)) {
    for (const item of client) {
      if (typeof item === 'string') clientPairs.push([makeAbsPath(item, dir), undefined]);
      else if (Array.isArray(item) && item.length === 2) {
        const [cert = '', key = ''] = stringList(item, file, `${what}: client`);
        clientPairs.push([makeAbsPath(cert, dir), makeAbsPath(key, dir)]);
      } else fail(file, `${what}: client must be a file, or an array of files or of [certificate, key] pairs, got ${describe(item)} in the array`);
    }
  } else if (client !== undefined) fail(file, `${what}: client must be a file, or an array of files or of [certificate, key] pairs, got ${describe(client)}`);

  const header = table['header'];
  let headers: Record<string, string> | undefined;
  if (isRecord(header)) {
    headers = {};
    const count = Object.keys(header).length;
    if (count > MAX_HEADERS) fail(file, `${what}: ${count} headers; at most ${MAX_HEADERS} are read`);
    let bytes = 0;
    for (const [name, value] of Object.entries(header)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) fail(file, `${what}: header name ${JSON.stringify(name).slice(0, 80)} is not a valid HTTP header name`);
      // Go's client never sends these from a header map, and the HTTP client here refuses some of them on every request.
      if (CLIENT_HEADERS.has(name.toLowerCase())) fail(file, `${what}: header ${name} is the HTTP client's to set, not hosts.toml's`);
      const values = typeof value === 'string' ? [value] : Array.isArray(value) ? stringList(value, file, `${what}: header ${name}`) : fail(file, `${what}: header ${name} must be a string or an array of strings, got ${describe(value)}`);
      // A value with a line break would split the request; Go's client refuses it too.
      if (values.some((v) => /[\r\n\0]/.test(v))) fail(file, `${what}: header ${name} holds a line break`);
      // Other control characters and characters past U+00FF: the HTTP client refuses them on every
      // request. The value is not quoted: it may be a token.
      if (values.some((v) => /[^\t\x20-\x7e\x80-\xff]/.test(v))) fail(file, `${what}: header ${name} holds a character an HTTP header cannot carry (a control character, or one past U+00FF)`);
      // Several values are sent as one comma-separated field, which HTTP reads the same.
      if (values.length > 0) headers[name] = values.join(', ');
      bytes += name.length + (headers[name]?.length ?? 0);
      // Registries refuse larger request headers (nginx: 8 KiB a line), so every request would fail.
      if (bytes > MAX_HEADER_BYTES) fail(file, `${what}: its headers hold more than ${MAX_HEADER_BYTES} bytes (sent with every request)`);
    }
  } else if (header !== undefined) fail(file, `${what}: header must be a table of names and values, got ${describe(header)}`);

  return { ...location, capabilities, caFiles, clientPairs, skipVerify: bool('skip_verify'), headers };
}

/**
 * The hosts of one hosts.toml, `server` (or the default, host '') last; `undefined` when the file
 * has no `[host."…"]` table, which containerd 1.6/1.7 treat as no hosts.toml at all.
 */
export function parseHostsToml(text: string, dir: string, file: string): HostConfig[] | undefined {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text);
  } catch (error) {
    if (error instanceof TomlError) fail(`${file}:${error.line}:${error.column}`, `invalid TOML: ${error.message.split('\n')[0] ?? ''}`);
    throw error;
  }
  const hostTable = doc['host'];
  if (hostTable === undefined) return undefined;
  if (!isRecord(hostTable)) fail(file, `host must hold tables such as [host."https://mirror.example.com"], got ${describe(hostTable)}`);
  const count = Object.keys(hostTable).length;
  if (count > MAX_HOSTS) fail(file, `${count} [host."…"] tables; at most ${MAX_HOSTS} are read (each is asked in turn for every image)`);
  const hosts: HostConfig[] = [];
  // smol-toml keeps the tables in file order, the order containerd sorts them into.
  for (const [name, table] of Object.entries(hostTable)) {
    const what = `[host.${JSON.stringify(name)}]`;
    if (!isRecord(table)) fail(file, `${what} must be a table, got ${describe(table)}`);
    if (name === '') fail(file, `${what}: a host needs a name`);
    hosts.push(parseHostTable(name, table, dir, file, what));
  }
  const server = doc['server'];
  if (server !== undefined && typeof server !== 'string') fail(file, `server must be a URL string, got ${describe(server)}`);
  hosts.push(parseHostTable(server ?? '', doc, dir, file, 'server'));
  return hosts;
}

/** Without a usable hosts.toml: the directory's Docker-style certificate files for the default endpoint. */
export function certFileHosts(dir: string, fileNames: readonly string[]): HostConfig[] {
  const names = [...fileNames].sort();
  const present = new Set(names);
  return [
    {
      scheme: '',
      host: '',
      path: '',
      capabilities: ALL_CAPABILITIES,
      caFiles: names.filter((n) => n.endsWith('.crt')).map((n) => posix.join(dir, n)),
      clientPairs: names
        .filter((n) => n.endsWith('.cert'))
        .map((n) => {
          const key = `${n.slice(0, -'.cert'.length)}.key`;
          return [posix.join(dir, n), present.has(key) ? posix.join(dir, key) : undefined] as const;
        }),
      skipVerify: undefined,
      headers: undefined,
    },
  ];
}

/** containerd's docker.IsLocalhost: `localhost` or a loopback address, with or without a port. */
export function isLocalhost(host: string): boolean {
  // net.SplitHostPort: `[v6]:port` or `name:port`; a bare IPv6 address has no port to split.
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  const bare = bracketed ? (bracketed[1] ?? '') : isIPv6(host) ? host : host.replace(/:\d*$/, '');
  if (bare === 'localhost') return true;
  if (isIPv4(bare)) return bare.startsWith('127.');
  return isIPv6(bare) && new URL(`http://[${bare}]`).hostname === '[::1]';
}

/** What ConfigureHosts fills into a host without `server`: the registry's own endpoint. */
function withDefaultServer(config: HostConfig, registry: string): HostConfig {
  if (config.host !== '') return config;
  const base = { ...config, path: '/v2', capabilities: ALL_CAPABILITIES };
  if (registry === DOCKER_HUB) return { ...base, scheme: 'https', host: DOCKER_HUB_API_HOST };
  // containerd 1.6 speaks plain HTTP to a loopback registry (1.7 tries TLS first on ports other than 443).
  if (isLocalhost(registry)) return { ...base, scheme: 'http', host: registry, skipVerify: true };
  return { ...base, scheme: 'https', host: registry };
}

/** The name credentials are matched by: the registry's own for its API host, else the host's. */
function credentialName(host: string, registry: string): string {
  return host === registry || (registry === DOCKER_HUB && host === DOCKER_HUB_API_HOST) ? registry : host;
}

/**
 * One TLS object per distinct setting: the transport keeps one dispatcher (TLS context, connection
 * pool) per object, so a new one per image would build a TLS context and open new connections for
 * every image. The loader gives hosts naming the same CA files and client pair the same objects, so
 * alike hosts share one too. Weak: a configuration read again drops its own.
 */
const tlsObjects = new WeakMap<readonly string[], Map<unknown, Map<boolean, EndpointTls | undefined>>>();
const NO_CLIENT = Symbol('no client certificate');

function endpointTls(config: LoadedHost): EndpointTls | undefined {
  const skipVerify = config.skipVerify === true;
  let byClient = tlsObjects.get(config.caPems);
  if (!byClient) tlsObjects.set(config.caPems, (byClient = new Map()));
  let byFlag = byClient.get(config.client ?? NO_CLIENT);
  if (!byFlag) byClient.set(config.client ?? NO_CLIENT, (byFlag = new Map()));
  if (byFlag.has(skipVerify)) return byFlag.get(skipVerify);
  const tls: EndpointTls = {
    ...(config.caPems.length > 0 ? { caPems: config.caPems } : {}),
    ...(config.client ? { clientCertPem: config.client.certPem, clientKeyPem: config.client.keyPem } : {}),
    ...(skipVerify ? { skipVerify: true } : {}),
  };
  const shared = Object.keys(tls).length > 0 ? tls : undefined;
  byFlag.set(skipVerify, shared);
  return shared;
}

function sourceFor(ref: ImageReference, config: LoadedHost, isDefault: boolean): Omit<PullSource, 'authoritative'> {
  const name = credentialName(config.host, ref.registry);
  const tls = endpointTls(config);
  const hasTls = tls !== undefined;
  // The registry's own default endpoint with nothing added is asked as it is without a hosts directory.
  if (isDefault && config.scheme === 'https' && !hasTls && !config.headers) return { ref: withLocation(ref, name, ref.repository) };
  // path.Join in containerd's request: `//v2` is `/v2`, an override path of `/` is the root.
  const apiPath = posix.normalize(`/${config.path}`).replace(/\/+$/, '');
  const endpoint: Endpoint = {
    scheme: config.scheme === 'http' ? 'http' : 'https',
    host: config.host,
    apiPath,
    ...(tls ? { tls } : {}),
    ...(config.headers ? { headers: config.headers } : {}),
    // containerd's isProxy: a host that is not the registry's own is told which registry is meant.
    ...(name !== ref.registry ? { query: { ns: ref.registry } } : {}),
  };
  return { ref: withLocation(ref, name, ref.repository), endpoint };
}

/** The plan for `ref` given the hosts of the directory containerd picks for its registry. */
export function planFromHosts(ref: ImageReference, hosts: readonly LoadedHost[], dirName: string): PullPlan {
  const filled = hosts.map((h, i) => (i === hosts.length - 1 ? { ...h, ...withDefaultServer(h, ref.registry) } : h));
  // Resolving a tag needs `pull` and `resolve`; a digest only `pull` (resolver.go, Resolve).
  const needed = ref.digest !== undefined ? CAPABILITY_PULL : CAPABILITY_PULL | CAPABILITY_RESOLVE;
  const usable = filled
    .map((host, i) => ({ host, isDefault: i === hosts.length - 1 && hosts[i]?.host === '' }))
    .filter(({ host }) => (host.capabilities & needed) === needed);
  if (usable.length === 0) {
    const what = ref.digest !== undefined ? '"pull"' : '"pull" and "resolve"';
    return { sources: [], blocked: `no host in the hosts directory ${dirName} has the capabilities ${what} this image needs` };
  }
  const sources: PullSource[] = [];
  for (const [i, { host, isDefault }] of usable.entries()) {
    sources.push({ ...sourceFor(ref, host, isDefault), authoritative: i === usable.length - 1 });
  }
  return { sources };
}

/**
 * A hosts directory as pull places: `dirs` maps each directory name under the root to its hosts
 * (as parsed, files read). A registry with no directory and no `_default` is pulled as without one.
 */
export function containerdHostsPlaces(dirs: ReadonlyMap<string, readonly LoadedHost[]>): PullPlaces {
  return {
    plan(ref) {
      for (const name of hostDirCandidates(ref.registry)) {
        const hosts = dirs.get(name);
        if (hosts) return planFromHosts(ref, hosts, name);
      }
      return { sources: [{ ref, authoritative: true }] };
    },
  };
}
