/**
 * CRI-O's registries.conf (containers-registries.conf(5), v2 and the old v1 tables) read as
 * containers/image's pkg/sysregistriesv2 reads it for a pull by a fully qualified name, and turned
 * into pull plans. Pure: the files are read by registries-conf-load.ts.
 *
 * Out of scope: `unqualified-search-registries`, `short-name-mode` and `[aliases]` only matter for
 * short names, and the kubelet always hands the runtime a fully qualified one (they are type-checked,
 * not used). `credential-helpers` is not read: credentials come from the exporter's own sources.
 */
import { parse, TomlError } from 'smol-toml';
import type { Endpoint, EndpointTls, PullPlaces, PullPlan, PullSource } from '../image/pull-plan.js';
import { parseImageReference, withLocation, type ImageReference } from '../image/reference.js';
import { boundedText, isRecord } from '../utils/untrusted.js';
import { NodeConfigError } from './node-config-error.js';

export type PullFromMirror = 'all' | 'digest-only' | 'tag-only';

/** A `location` a node pulls from: the registry's own, or one of its mirrors. */
export interface RegistryEndpoint {
  /** host[:port][/namespace], trailing slashes removed; '' only for a wildcard prefix's primary. */
  readonly location: string;
  /** Skip TLS verification and fall back to plain HTTP. */
  readonly insecure: boolean;
  /** Mirrors only; '' when unset (same as `all`). */
  readonly pullFromMirror: PullFromMirror | '';
}

/** One `[[registry]]` after containers/image's post-processing (prefix defaulted to location). */
export interface RegistryEntry extends RegistryEndpoint {
  readonly prefix: string;
  readonly blocked: boolean;
  readonly mirrorByDigestOnly: boolean;
  readonly mirrors: readonly RegistryEndpoint[];
  /** The file that defined it, for messages. */
  readonly file: string;
}

/** The merged configuration: at most one entry per prefix, sorted by prefix as containers/image keeps it. */
export interface RegistriesConf {
  readonly registries: readonly RegistryEntry[];
}

/**
 * Mirrors of one registry, and registries in the merged configuration. containers/image sets no
 * limit, but every image's plan holds each mirror and looks up each place among the registries:
 * 22,000 mirrors in a 1 MiB file cost 180 ms per image, 16,000 registries about 1 ms per image.
 */
export const MAX_MIRRORS = 16;
export const MAX_REGISTRIES = 1000;
const PULL_FROM_MIRROR = new Set<string>(['all', 'digest-only', 'tag-only']);
const SHORT_NAME_MODES = new Set(['disabled', 'enforcing', 'permissive']);
/** The keys that make a file v2 (V2RegistriesConf's fields, aliases included). */
const V2_KEYS = ['registry', 'unqualified-search-registries', 'credential-helpers', 'short-name-mode', 'additional-layer-store-auth-helper', 'aliases'];
/** distribution/reference's DomainRegexp, which unqualified-search-registries entries must match. */
const DOMAIN = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;

/** Byte order, as Go's sort.Strings (the order containers/image keeps registries in). */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

class Reader {
  constructor(readonly file: string) {}

  fail(message: string): never {
    throw new NodeConfigError(`${this.file}: ${message}`);
  }

  string(table: Record<string, unknown>, key: string, where: string): string {
    const value = table[key];
    if (value === undefined) return '';
    if (typeof value !== 'string') this.fail(`${where}${key} must be a string, not ${typeName(value)}`);
    return value;
  }

  boolean(table: Record<string, unknown>, key: string, where: string): boolean {
    const value = table[key];
    if (value === undefined) return false;
    if (typeof value !== 'boolean') this.fail(`${where}${key} must be true or false, not ${typeName(value)}`);
    return value;
  }

  strings(table: Record<string, unknown>, key: string, where: string): string[] | undefined {
    const value = table[key];
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) this.fail(`${where}${key} must be an array of strings`);
    return value as string[];
  }

  tables(table: Record<string, unknown>, key: string, where: string): Record<string, unknown>[] {
    const value = table[key];
    if (value === undefined) return [];
    if (!Array.isArray(value) || !value.every(isRecord)) this.fail(`${where}${key} must be an array of tables ([[${key}]])`);
    return value as Record<string, unknown>[];
  }

  /** containers/image's parseLocation: trailing slashes dropped, URI schemes refused. */
  location(input: string): string {
    const trimmed = input.replace(/\/+$/, '');
    if (/^https?:\/\//.test(trimmed)) this.fail(`invalid location ${quote(input)}: URI schemes are not supported`);
    return trimmed;
  }
}

function typeName(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (isRecord(value)) return 'a table';
  return `a ${typeof value}`;
}

function quote(text: string): string {
  return boundedText(JSON.stringify(text), 300);
}

function tomlTable(text: string, file: string): Record<string, unknown> {
  try {
    return parse(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      // The message's first line only: the rest quotes the file.
      const reason = err.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '') ?? 'invalid TOML';
      throw new NodeConfigError(`${file}:${err.line}:${err.column}: ${reason}`);
    }
    throw err;
  }
}

/** v1's `[registries.search|insecure|block] registries = [...]`; undefined when none is set. */
function v1Tables(reader: Reader, top: Record<string, unknown>): { insecure: string[]; block: string[]; search: string[] } | undefined {
  const registries = top['registries'];
  if (registries === undefined) return undefined;
  if (!isRecord(registries)) reader.fail(`registries must be a table (v1: [registries.search] …), not ${typeName(registries)}`);
  const list = (name: string): string[] | undefined => {
    const table = registries[name];
    if (table === undefined) return undefined;
    if (!isRecord(table)) reader.fail(`registries.${name} must be a table`);
    return reader.strings(table, 'registries', `registries.${name}.`);
  };
  const search = list('search');
  const insecure = list('insecure');
  const block = list('block');
  if (!search && !insecure && !block) return undefined;
  return { search: search ?? [], insecure: insecure ?? [], block: block ?? [] };
}

/** ConvertToV2: one entry per location, prefix = location, in first-mention order (block, then insecure). */
function convertV1(reader: Reader, v1: { insecure: string[]; block: string[] }): Record<string, unknown>[] {
  const byLocation = new Map<string, Record<string, unknown>>();
  const entry = (location: string): Record<string, unknown> => {
    const parsed = reader.location(location);
    let found = byLocation.get(parsed);
    if (!found) {
      found = { location: parsed, prefix: parsed };
      byLocation.set(parsed, found);
    }
    return found;
  };
  for (const location of v1.block) entry(location)['blocked'] = true;
  for (const location of v1.insecure) entry(location)['insecure'] = true;
  return [...byLocation.values()];
}

/**
 * One file, as loadConfigFile + postProcessRegistries read it: validated, prefixes defaulted,
 * duplicate prefixes dropped (the first wins) and sorted. A drop-in must be v2.
 */
export function parseRegistriesConf(text: string, file: string, options: { dropIn: boolean } = { dropIn: false }): RegistryEntry[] {
  const reader = new Reader(file);
  const top = tomlTable(text, file);
  const v1 = v1Tables(reader, top);
  let raw: Record<string, unknown>[];
  if (v1) {
    if (options.dropIn) reader.fail('registry must be in v2 format but is in v1 (drop-ins must use [[registry]])');
    if (V2_KEYS.some((key) => top[key] !== undefined)) reader.fail('mixing sysregistry v1 ([registries.…]) and v2 ([[registry]] …) is not supported');
    raw = convertV1(reader, v1);
  } else {
    raw = reader.tables(top, 'registry', '');
    const search = reader.strings(top, 'unqualified-search-registries', '') ?? [];
    for (const entry of search) {
      if (!DOMAIN.test(reader.location(entry))) reader.fail(`invalid unqualified-search-registries entry ${quote(entry)}`);
    }
    reader.strings(top, 'credential-helpers', '');
    reader.string(top, 'additional-layer-store-auth-helper', '');
    const mode = reader.string(top, 'short-name-mode', '');
    if (mode !== '' && !SHORT_NAME_MODES.has(mode)) reader.fail(`invalid short-name mode ${quote(mode)}`);
  }
  if (raw.length > MAX_REGISTRIES) reader.fail(`${raw.length} registries; at most ${MAX_REGISTRIES} are read`);
  const entries = raw.map((table, index) => readEntry(reader, table, `[[registry]] #${index + 1}: `));
  checkConflicts(reader, entries);
  for (const entry of entries) {
    if (entry.prefix.startsWith('*.') && /[/@:]/.test(entry.prefix)) {
      reader.fail(`wildcarded prefix should be in the format *.example.com; prefix ${quote(entry.prefix)} is incorrectly formatted`);
    }
  }
  // Registries are ordered and the first of a prefix wins; containers/image drops the rest silently.
  const unique = new Map<string, RegistryEntry>();
  for (const entry of entries) if (!unique.has(entry.prefix)) unique.set(entry.prefix, entry);
  return [...unique.values()].sort((a, b) => byteOrder(a.prefix, b.prefix));
}

function readEntry(reader: Reader, table: Record<string, unknown>, where: string): RegistryEntry {
  const location = reader.location(reader.string(table, 'location', where));
  let prefix = reader.string(table, 'prefix', where);
  if (prefix === '') {
    if (location === '') reader.fail(`${where}invalid condition: both location and prefix are unset`);
    prefix = location;
  } else {
    prefix = reader.location(prefix);
    if (!prefix.startsWith('*.') && location === '') reader.fail(`${where}invalid condition: location is unset and prefix ${quote(prefix)} is not in the format *.example.com`);
  }
  checkLocation(reader, location, where);
  if (reader.string(table, 'pull-from-mirror', where) !== '') reader.fail(`${where}pull-from-mirror must not be set for a non-mirror registry ${quote(prefix)}`);
  const mirrorByDigestOnly = reader.boolean(table, 'mirror-by-digest-only', where);
  const mirrorTables = reader.tables(table, 'mirror', where);
  if (mirrorTables.length > MAX_MIRRORS) reader.fail(`${where}${mirrorTables.length} mirrors; at most ${MAX_MIRRORS} are read (each is asked in turn for every image)`);
  const mirrors = mirrorTables.map((mirror, index) => {
    const at = `${where}mirror #${index + 1}: `;
    const mirrorLocation = reader.location(reader.string(mirror, 'location', at));
    if (mirrorLocation === '') reader.fail(`${at}invalid condition: mirror location is unset`);
    checkLocation(reader, mirrorLocation, at);
    const pullFromMirror = reader.string(mirror, 'pull-from-mirror', at);
    if (mirrorByDigestOnly && pullFromMirror !== '') {
      reader.fail(`${at}cannot set mirror-by-digest-only for the registry ${quote(prefix)} and pull-from-mirror for its mirror ${quote(mirrorLocation)} at the same time`);
    }
    if (pullFromMirror !== '' && !PULL_FROM_MIRROR.has(pullFromMirror)) {
      reader.fail(`${at}unsupported pull-from-mirror value ${quote(pullFromMirror)} for mirror ${quote(mirrorLocation)} (all, digest-only or tag-only)`);
    }
    return { location: mirrorLocation, insecure: reader.boolean(mirror, 'insecure', at), pullFromMirror: pullFromMirror as PullFromMirror | '' };
  });
  return {
    prefix,
    location,
    insecure: reader.boolean(table, 'insecure', where),
    blocked: reader.boolean(table, 'blocked', where),
    mirrorByDigestOnly,
    pullFromMirror: '',
    mirrors,
    file: reader.file,
  };
}

/**
 * containers/image accepts any location here and fails each pull that rewrites to an invalid name;
 * refusing the file says so once, naming the line's entry, instead of failing every image quietly.
 */
function checkLocation(reader: Reader, location: string, where: string): void {
  if (location === '') return;
  try {
    const ref = parseImageReference(`${location}/x`);
    if (!location.startsWith(ref.registry) && !/^(index|registry-1)\.docker\.io(\/|$)/.test(location)) throw new Error('no registry host');
  } catch {
    reader.fail(`${where}location ${quote(location)} is not a registry host[:port] with an optional lowercase namespace`);
  }
}

/** Entries of one location (or wildcard prefix) must agree on insecure and blocked. Linear. */
function checkConflicts(reader: Reader, entries: readonly RegistryEntry[]): void {
  const first = new Map<string, RegistryEntry>();
  for (const entry of entries) {
    const key = entry.location === '' ? entry.prefix : entry.location;
    const seen = first.get(key);
    if (!seen) {
      first.set(key, entry);
      continue;
    }
    for (const setting of ['insecure', 'blocked'] as const) {
      if (seen[setting] !== entry[setting]) reader.fail(`registry ${quote(key)} is defined multiple times with conflicting ${quote(setting)} setting`);
    }
  }
}

/**
 * updateWithConfigurationFrom: a drop-in's entries replace the ones with the same prefix; the rest
 * stay. The result is sorted by prefix.
 */
export function mergeRegistries(base: readonly RegistryEntry[], dropIn: readonly RegistryEntry[]): RegistryEntry[] {
  const byPrefix = new Map<string, RegistryEntry>();
  for (const entry of base) byPrefix.set(entry.prefix, entry);
  for (const entry of dropIn) byPrefix.set(entry.prefix, entry);
  return [...byPrefix.values()].sort((a, b) => byteOrder(a.prefix, b.prefix));
}

/** refMatchingSubdomainPrefix: `*.example.com` matches a host ending in `.example.com`. */
function matchingSubdomainPrefix(ref: string, prefix: string): number {
  const suffix = prefix.slice(1);
  let index = ref.indexOf(suffix);
  if (index === -1 || ref.slice(0, index).includes('/')) return -1;
  index += suffix.length;
  if (index === ref.length) return index;
  return ':/@'.includes(ref[index] as string) ? index : -1;
}

/**
 * refMatchingPrefix: the length of `ref` the prefix covers, or -1. A prefix matches at a boundary
 * (`:`, `/`, `@` or the end), so `example.com/foo` does not match `example.com/foobar`.
 */
export function refMatchingPrefix(ref: string, prefix: string): number {
  if (prefix.startsWith('*.')) return matchingSubdomainPrefix(ref, prefix);
  if (!ref.startsWith(prefix)) return -1;
  if (ref.length === prefix.length) return prefix.length;
  return ':/@'.includes(ref[prefix.length] as string) ? prefix.length : -1;
}

/** FindRegistry: the entry with the longest prefix (the first in prefix order on a tie). */
export function findRegistry(conf: RegistriesConf, name: string): RegistryEntry | undefined {
  let found: RegistryEntry | undefined;
  for (const entry of conf.registries) {
    if (entry.prefix.length > (found?.prefix.length ?? 0) && refMatchingPrefix(name, entry.prefix) !== -1) found = entry;
  }
  return found;
}

/** PullSourcesFromReference: the mirrors this kind of reference may use, then the registry itself. */
function endpointsFor(entry: RegistryEntry, digested: boolean): RegistryEndpoint[] {
  const mirrors = entry.mirrorByDigestOnly
    ? digested
      ? entry.mirrors
      : []
    : entry.mirrors.filter((m) => !(m.pullFromMirror === 'digest-only' && !digested) && !(m.pullFromMirror === 'tag-only' && digested));
  return [...mirrors, entry];
}

/** The reference's text as containers/image's reference.String(): name[:tag][@digest]. */
function referenceString(ref: ImageReference): string {
  return ref.canonical;
}

/**
 * rewriteReference: the location replaces the part of the reference the prefix matched; a wildcard
 * entry without a location pulls the reference as it is. Undefined when the result is not a
 * canonical reference (containers/image fails the pull then).
 */
function rewrite(ref: ImageReference, prefix: string, location: string): ImageReference | undefined {
  if (location === '') return ref;
  const text = referenceString(ref);
  const matched = refMatchingPrefix(text, prefix);
  if (matched === -1) return undefined;
  const rewritten = `${location}${text.slice(matched)}`;
  let parsed: ImageReference;
  try {
    parsed = parseImageReference(rewritten);
  } catch {
    return undefined;
  }
  // reference.ParseNamed refuses a name that normalizes to something else (docker.io/nginx).
  if (parsed.canonical !== rewritten && !/^(registry-1|index)\.docker\.io\//.test(rewritten)) return undefined;
  return withLocation(ref, parsed.registry, parsed.repository);
}

/** The host containers/image connects to for a registry name (newDockerClient). */
function apiHost(registry: string): string {
  return registry === 'docker.io' ? 'registry-1.docker.io' : registry;
}

/**
 * One object for every insecure place: the transport keeps a dispatcher (TLS context, connection
 * pool) per TLS object, and a new one per image would build a context and connect anew per image.
 */
const INSECURE_TLS: EndpointTls = Object.freeze({ skipVerify: true });

/** `insecure`: HTTPS without verifying the certificate, then plain HTTP if that fails (detectProperties). */
function insecureEndpoint(ref: ImageReference): Endpoint {
  return { scheme: 'https', host: apiHost(ref.registry), apiPath: '/v2', tls: INSECURE_TLS, httpFallback: true };
}

/**
 * Where a node whose runtime reads `conf` pulls `ref` from, as containers/image's newImageSource
 * does: the entry of the longest prefix gives its mirrors (subject to pull-from-mirror) and its
 * location, each reference rewritten. A place whose rewritten name falls under a `blocked` entry is
 * refused (newDockerClient's check, made per place: a blocked registry's mirrors are still tried).
 */
export function planPull(conf: RegistriesConf, ref: ImageReference): PullPlan {
  const name = `${ref.registry}/${ref.repository}`;
  const entry = findRegistry(conf, name);
  if (!entry) return { sources: [{ ref, authoritative: true }] };
  const places: { ref: ImageReference; insecure: boolean }[] = [];
  const refusals: string[] = [];
  let registryRefused = false;
  const endpoints = endpointsFor(entry, ref.digest !== undefined);
  for (const [index, endpoint] of endpoints.entries()) {
    const rewritten = rewrite(ref, entry.prefix, endpoint.location);
    if (!rewritten) {
      refusals.push(`rewriting ${ref.canonical} with prefix ${quote(entry.prefix)} and location ${quote(endpoint.location)} in ${entry.file} gives an invalid reference`);
      // PullSourcesFromReference fails as a whole: the node pulls from nowhere.
      return { sources: [], blocked: refusals.join('; ') };
    }
    const physical = findRegistry(conf, `${rewritten.registry}/${rewritten.repository}`);
    if (physical?.blocked) {
      refusals.push(`registry ${physical.prefix} is blocked in ${physical.file}`);
      // The location comes last: refused, the node has only the mirrors before it.
      if (index === endpoints.length - 1) registryRefused = true;
      continue;
    }
    places.push({ ref: rewritten, insecure: endpoint.insecure });
  }
  const sources: PullSource[] = places.map((place, index) => ({
    ref: place.ref,
    // The registry has the last word; when it is refused, nobody has: a miss everywhere is `blocked`.
    authoritative: !registryRefused && index === places.length - 1,
    ...(place.insecure ? { endpoint: insecureEndpoint(place.ref) } : {}),
  }));
  return registryRefused ? { sources, blocked: refusals.join('; ') } : { sources };
}

/** The configuration as a source of pull places. */
export function registriesConfPlaces(conf: RegistriesConf): PullPlaces {
  return { plan: (ref) => planPull(conf, ref) };
}
