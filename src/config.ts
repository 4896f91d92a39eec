/**
 * Command-line flags, Go style (`--flag=value`, `--flag value`, `-flag`), as the original exporter
 * took them. Pure: turns argv into a Config or a FlagError that names the flag.
 */
import { formatDuration, parseGoDuration } from './duration.js';
import { parseMirrorRule, parseRegistryLocation, type Location, type MirrorRule } from './image/mirror.js';
import type { Level } from './log.js';

export interface Config {
  /** Undefined: all interfaces. */
  readonly bindHost: string | undefined;
  readonly bindPort: number;
  readonly checkIntervalMs: number;
  readonly scrapeTimeoutMs: number;
  readonly listMaxAgeMs: number;
  readonly listTimeoutMs: number;
  readonly registryTimeoutMs: number;
  readonly ignoredImages: readonly string[];
  readonly kubeconfig: string | undefined;
  readonly maxConcurrentChecks: number;
  readonly maxConcurrentPerRegistry: number;
  readonly allowPlainHttp: readonly string[];
  readonly logLevel: Level;
  readonly dockerConfig: string | undefined;
  readonly registryCaFiles: readonly string[];
  readonly skipRegistryCertVerification: boolean;
  readonly imageMirrors: readonly MirrorRule[];
  readonly defaultRegistry: Location | undefined;
  readonly checkPlatforms: boolean;
}

export class FlagError extends Error {
  constructor(
    readonly flag: string,
    problem: string,
  ) {
    super(`invalid flag --${flag}: ${problem}`);
    this.name = 'FlagError';
  }
}

type Kind = 'string' | 'duration' | 'count' | 'list' | 'bool' | 'address' | 'level';

interface FlagSpec {
  readonly kind: Kind;
  readonly help: string;
  readonly default?: string;
  /** May be given more than once (values accumulate). */
  readonly repeatable?: boolean;
}

export const FLAGS: Readonly<Record<string, FlagSpec>> = {
  'bind-address': { kind: 'address', default: ':8080', help: 'Address to listen on: ":port", "host:port" or "[::1]:port".' },
  'check-interval': {
    kind: 'duration',
    default: '5m',
    help: 'How long a check result is reused before the image is checked again (Go duration: 90s, 5m, 1h30m).',
  },
  'ignored-images': {
    kind: 'list',
    repeatable: true,
    help: 'Comma-separated images not to check, as written in the spec or normalized; "*" matches any characters.',
  },
  kubeconfig: { kind: 'string', help: 'Path to a kubeconfig. Default: in-cluster config, then $KUBECONFIG or ~/.kube/config.' },
  'scrape-timeout': {
    kind: 'duration',
    default: '10s',
    help: "Answer /metrics within this time when Prometheus sends no X-Prometheus-Scrape-Timeout-Seconds header.",
  },
  'registry-timeout': { kind: 'duration', default: '10s', help: 'Timeout of connecting to a registry or token service, and of waiting for its answer.' },
  'list-max-age': {
    kind: 'duration',
    default: '30s',
    help: 'A scrape answers from the newest workload listing; one older than this is listed anew for later scrapes.',
  },
  'list-timeout': { kind: 'duration', default: '60s', help: 'Timeout of one page of a workload or service-account list.' },
  'max-concurrent-checks': { kind: 'count', default: '32', help: 'Registry requests running at once, over all registries (shared fairly between them).' },
  'max-concurrent-per-registry': { kind: 'count', default: '16', help: 'Registry requests running at once against one registry host.' },
  'allow-plain-http': {
    kind: 'list',
    repeatable: true,
    help: 'Comma-separated registry hosts (host[:port], "*" globs) spoken to over plain HTTP; credentials may then be sent over HTTP to them.',
  },
  'docker-config': {
    kind: 'string',
    help: 'Path to a docker config.json whose credentials are tried after the pull secrets (the nodes\' own credentials).',
  },
  'registry-ca-file': {
    kind: 'string',
    repeatable: true,
    help: 'PEM file of CA certificates trusted for registries in addition to the system roots. Repeatable.',
  },
  'skip-registry-cert-verification': { kind: 'bool', help: 'Do not verify registry TLS certificates (insecure).' },
  'image-mirror': {
    kind: 'string',
    repeatable: true,
    help: 'original=mirror: nodes pull images of "original" (registry[/path]) through "mirror" first, then from the original, e.g. docker.io=mirror.example.com/hub. Only the original can prove an image absent. Repeatable.',
  },
  'image-mirror-only': {
    kind: 'string',
    repeatable: true,
    help: 'original=mirror: nodes pull images of "original" only from "mirror" (air-gapped clusters): the mirror\'s answer is final. Repeatable.',
  },
  'default-registry': {
    kind: 'string',
    help: 'Registry[/path] for images whose name has no registry (instead of docker.io).',
  },
  'check-platforms': {
    kind: 'bool',
    default: 'true',
    help: 'Report platforms (like linux/arm64) of the nodes a workload may run on that its image does not provide. Lists the nodes (at most once a minute); --check-platforms=false turns both off.',
  },
  'log-level': { kind: 'level', default: 'info', help: 'debug, info, warn or error.' },
  help: { kind: 'bool', help: 'Print this help and exit.' },
  version: { kind: 'bool', help: 'Print the version and exit.' },
};

export type ParseOutcome =
  | { readonly action: 'run'; readonly config: Config }
  | { readonly action: 'help' }
  | { readonly action: 'version' };

/** Splits argv into flag values; Go's flag syntax, no positional arguments. */
function tokenize(argv: readonly string[]): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      if (i + 1 < argv.length) throw new FlagError(String(argv[i + 1]).replace(/^-+/, ''), 'unexpected positional argument');
      break;
    }
    const match = /^--?([A-Za-z0-9][A-Za-z0-9-]*)(?:=([\s\S]*))?$/.exec(arg);
    if (!match) {
      throw new FlagError(arg.replace(/^-+/, '') || arg, `unexpected argument ${JSON.stringify(arg)} (flags look like --name=value)`);
    }
    const name = match[1] as string;
    const spec = FLAGS[name];
    if (!spec) throw new FlagError(name, 'unknown flag (see --help)');
    let value = match[2];
    if (value === undefined) {
      if (spec.kind === 'bool') value = 'true';
      else {
        const next = argv[i + 1];
        if (next === undefined) throw new FlagError(name, 'needs a value');
        value = next;
        i++;
      }
    }
    const seen = values.get(name);
    if (seen && !spec.repeatable) throw new FlagError(name, 'given more than once');
    values.set(name, [...(seen ?? []), value]);
  }
  return values;
}

function parseDuration(name: string, value: string): number {
  let ms: number;
  try {
    ms = parseGoDuration(value);
  } catch (error) {
    throw new FlagError(name, (error as Error).message);
  }
  if (ms <= 0) throw new FlagError(name, `must be positive, got ${JSON.stringify(value)}`);
  if (ms > 2_147_483_647) throw new FlagError(name, `must be at most ${formatDuration(2_147_483_647)}`);
  return ms;
}

function parseCount(name: string, value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new FlagError(name, `must be a whole number, got ${JSON.stringify(value)}`);
  const n = Number(value.trim());
  if (n < 1 || n > 10_000) throw new FlagError(name, `must be between 1 and 10000, got ${value.trim()}`);
  return n;
}

function parseBool(name: string, value: string): boolean {
  if (/^(1|t|true)$/i.test(value)) return true;
  if (/^(0|f|false)$/i.test(value)) return false;
  throw new FlagError(name, `must be true or false, got ${JSON.stringify(value)}`);
}

export function parseBindAddress(value: string): { host: string | undefined; port: number } {
  const match = /^(?:\[([0-9A-Fa-f:.%\w-]+)\]|([^:\s[\]]*)):(\d{1,5})$/.exec(value.trim());
  if (!match) throw new FlagError('bind-address', `expected ":port", "host:port" or "[ipv6]:port", got ${JSON.stringify(value)}`);
  const port = Number(match[3]);
  if (port > 65_535) throw new FlagError('bind-address', `port ${port} is out of range`);
  const host = match[1] ?? (match[2] || undefined);
  return { host, port };
}

function parseList(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s !== '');
}

function registryLocation(value: string): Location {
  try {
    return parseRegistryLocation(value);
  } catch (error) {
    throw new FlagError('default-registry', (error as Error).message);
  }
}

export function parseFlags(argv: readonly string[]): ParseOutcome {
  const values = tokenize(argv);
  const one = (name: string): string => {
    const given = values.get(name);
    return given ? (given[given.length - 1] as string) : (FLAGS[name]?.default ?? '');
  };
  if (values.has('help') && parseBool('help', one('help'))) return { action: 'help' };
  if (values.has('version') && parseBool('version', one('version'))) return { action: 'version' };

  const level = one('log-level');
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    throw new FlagError('log-level', `must be debug, info, warn or error, got ${JSON.stringify(level)}`);
  }
  const optionalPath = (name: string): string | undefined => {
    if (!values.has(name)) return undefined;
    const path = one(name);
    if (path.trim() === '') throw new FlagError(name, 'must not be empty');
    return path;
  };
  const kubeconfig = optionalPath('kubeconfig');
  const mirrorRules = (name: string, replaces: boolean): MirrorRule[] =>
    (values.get(name) ?? []).map((rule) => {
      try {
        return parseMirrorRule(rule, replaces);
      } catch (error) {
        throw new FlagError(name, (error as Error).message);
      }
    });
  const bind = parseBindAddress(one('bind-address'));
  return {
    action: 'run',
    config: {
      bindHost: bind.host,
      bindPort: bind.port,
      checkIntervalMs: parseDuration('check-interval', one('check-interval')),
      scrapeTimeoutMs: parseDuration('scrape-timeout', one('scrape-timeout')),
      listMaxAgeMs: parseDuration('list-max-age', one('list-max-age')),
      listTimeoutMs: parseDuration('list-timeout', one('list-timeout')),
      registryTimeoutMs: parseDuration('registry-timeout', one('registry-timeout')),
      ignoredImages: parseList(values.get('ignored-images') ?? []),
      kubeconfig,
      maxConcurrentChecks: parseCount('max-concurrent-checks', one('max-concurrent-checks')),
      maxConcurrentPerRegistry: parseCount('max-concurrent-per-registry', one('max-concurrent-per-registry')),
      allowPlainHttp: parseList(values.get('allow-plain-http') ?? []),
      logLevel: level as Level,
      dockerConfig: optionalPath('docker-config'),
      registryCaFiles: (values.get('registry-ca-file') ?? []).map((path) => {
        if (path.trim() === '') throw new FlagError('registry-ca-file', 'must not be empty');
        return path;
      }),
      skipRegistryCertVerification: values.has('skip-registry-cert-verification')
        ? parseBool('skip-registry-cert-verification', one('skip-registry-cert-verification'))
        : false,
      imageMirrors: [...mirrorRules('image-mirror', false), ...mirrorRules('image-mirror-only', true)],
      defaultRegistry: values.has('default-registry') ? registryLocation(one('default-registry')) : undefined,
      checkPlatforms: parseBool('check-platforms', one('check-platforms')),
    },
  };
}

export function helpText(): string {
  const lines = ['Usage: k8s-image-existence-exporter [flags]', '', 'Flags:'];
  for (const [name, spec] of Object.entries(FLAGS)) {
    const arg = spec.kind === 'bool' ? '' : '=VALUE';
    lines.push(`  --${name}${arg}`);
    lines.push(`      ${spec.help}${spec.default !== undefined ? ` (default ${spec.default})` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
