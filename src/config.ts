/**
 * Command-line flags, Go style (`--flag=value`, `--flag value`, `-flag`), as the original exporter
 * took them, for the exporter and for its `check` command. Pure: turns argv into a Config (or a
 * CheckConfig) or a UsageError; a FlagError names the flag.
 */
import { formatDuration, parseGoDuration } from './duration.js';
import { parseMirrorRule, parseRegistryLocation, type Location, type MirrorRule } from './image/mirror.js';
import type { Level } from './log.js';
import { parseLabelSelector, SelectorError } from './kubernetes/label-selector.js';
import type { NamespaceScope } from './kubernetes/namespaces.js';
import { BUILTIN_KINDS, type BuiltinKind, type CustomResource } from './kubernetes/workloads.js';
import { CLOUDS, type Cloud, type CloudChoice } from './credentials/providers/clouds.js';

const LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error'];

/** How images are checked and workloads listed: the same for the exporter and for `check`. */
export interface EngineSettings extends ClusterScope {
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
  /** The kubelet's credential-provider plugins: its config file (or directory) and the plugins' directory. */
  readonly credentialProviderConfig: string | undefined;
  readonly credentialProviderBinDir: string | undefined;
  readonly cloudCredentials: CloudChoice;
}

/** Which workloads of a cluster are listed. */
export interface ClusterScope {
  /** All namespaces, the ones named by --namespace, or those matching --namespace-selector. */
  readonly namespaceScope: NamespaceScope;
  /** The built-in kinds listed (--workload-kinds). */
  readonly workloadKinds: readonly BuiltinKind[];
  readonly customResources: readonly CustomResource[];
  readonly skipInactiveWorkloads: boolean;
}

/** The exporter's settings. */
export interface Config extends EngineSettings {
  /** Undefined: all interfaces. */
  readonly bindHost: string | undefined;
  readonly bindPort: number;
  readonly checkIntervalMs: number;
  readonly scrapeTimeoutMs: number;
  readonly listMaxAgeMs: number;
  readonly checkPlatforms: boolean;
  /** --web-config-file: TLS and basic auth of the listener (exporter-toolkit format); undefined: plain HTTP. */
  readonly webConfigFile?: string | undefined;
}

/** What `check` reports as a failure besides absent images and bad references. */
export type FailOn = 'absent' | 'unknown';

/** The settings of `check`. */
export interface CheckConfig extends EngineSettings {
  /** Files, directories and `-` (stdin); empty with --cluster. */
  readonly inputs: readonly string[];
  readonly cluster: boolean;
  readonly output: 'table' | 'json';
  readonly failOn: FailOn;
}

/** The command line is wrong: exit code 2, and this one-line message. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export class FlagError extends UsageError {
  constructor(
    readonly flag: string,
    problem: string,
  ) {
    super(`invalid flag --${flag}: ${problem}`);
    this.name = 'FlagError';
  }
}

type Kind = 'string' | 'duration' | 'count' | 'list' | 'bool' | 'address' | 'choice';

interface FlagSpec {
  readonly kind: Kind;
  readonly help: string;
  readonly default?: string;
  /** May be given more than once (values accumulate). */
  readonly repeatable?: boolean;
  /** The values a `choice` flag takes. */
  readonly choices?: readonly string[];
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
  'image-credential-provider-config': {
    kind: 'string',
    help: "The kubelet's credential-provider config (CredentialProviderConfig, YAML or JSON, or a directory of them): its plugins' credentials are tried after the pull secrets.",
  },
  'image-credential-provider-bin-dir': { kind: 'string', help: 'Directory of the credential-provider plugins named in --image-credential-provider-config.' },
  'cloud-credentials': {
    kind: 'string',
    default: 'auto',
    help: 'Built-in cloud registry credentials: auto (each where its identity is present: ecr with AWS IRSA/Pod Identity/keys, gcp with a GCE metadata server, acr with Azure workload identity), none, or a comma list of ecr,gcp,acr.',
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
  namespace: {
    kind: 'list',
    repeatable: true,
    help: 'Comma-separated (and repeatable) namespaces to look at, with namespaced lists only (Roles suffice). Default: all namespaces.',
  },
  'namespace-selector': {
    kind: 'string',
    help: 'Label selector of the namespaces to look at (e.g. "image-checks!=off", "team in (a,b)"), re-read at most once a minute. Needs list on namespaces.',
  },
  'workload-kinds': {
    kind: 'list',
    default: BUILTIN_KINDS.join(','),
    help: 'Comma-separated built-in kinds to list: Deployment, StatefulSet, DaemonSet, CronJob, Job (those no CronJob owns), Pod (those no controller owns).',
  },
  'workload-resource': {
    kind: 'string',
    repeatable: true,
    help: 'GROUP/VERSION/RESOURCE[:FIELD.PATH] of a custom resource with a pod template at FIELD.PATH (default spec.template), e.g. argoproj.io/v1alpha1/rollouts. Repeatable.',
  },
  'skip-inactive-workloads': {
    kind: 'bool',
    help: 'Leave out workloads that run no pods now: replicas 0, suspended CronJobs and Jobs, finished Jobs and Pods, DaemonSets that schedule no pod.',
  },
  'log-level': { kind: 'choice', choices: LEVELS, default: 'info', help: 'debug, info, warn or error.' },
  'web-config-file': {
    kind: 'string',
    help: 'Path to a web configuration file (the Prometheus exporter-toolkit format) enabling TLS and/or basic auth; re-read when it changes. /healthz stays open for kubelet probes.',
  },
  help: { kind: 'bool', help: 'Print this help and exit.' },
  version: { kind: 'bool', help: 'Print the version and exit.' },
};

export type ParseOutcome =
  | { readonly action: 'run'; readonly config: Config }
  | { readonly action: 'help' }
  | { readonly action: 'version' };

type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/**
 * Splits argv into flag values (Go's flag syntax) and, where the command takes them, positional
 * arguments: anything not starting with '-', '-' itself, and everything after '--'.
 */
function tokenize(argv: readonly string[], flags: FlagSpecs, takesPositionals: boolean): { values: Map<string, string[]>; positionals: string[] } {
  const values = new Map<string, string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      if (takesPositionals) positionals.push(...argv.slice(i + 1));
      else if (i + 1 < argv.length) throw new FlagError(String(argv[i + 1]).replace(/^-+/, ''), 'unexpected positional argument');
      break;
    }
    if (takesPositionals && (arg === '-' || !arg.startsWith('-'))) {
      positionals.push(arg);
      continue;
    }
    const match = /^--?([A-Za-z0-9][A-Za-z0-9-]*)(?:=([\s\S]*))?$/.exec(arg);
    if (!match) {
      throw new FlagError(arg.replace(/^-+/, '') || arg, `unexpected argument ${JSON.stringify(arg)} (flags look like --name=value)`);
    }
    const name = match[1] as string;
    const spec = flags[name];
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
  return { values, positionals };
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

/** The values given for each flag, and each flag's value or default. */
class Given {
  constructor(
    readonly values: ReadonlyMap<string, readonly string[]>,
    private readonly flags: FlagSpecs,
  ) {}

  has(name: string): boolean {
    return this.values.has(name);
  }

  all(name: string): readonly string[] {
    return this.values.get(name) ?? [];
  }

  one(name: string): string {
    const given = this.values.get(name);
    return given ? (given[given.length - 1] as string) : (this.flags[name]?.default ?? '');
  }

  bool(name: string): boolean {
    return parseBool(name, this.one(name));
  }

  optionalPath(name: string): string | undefined {
    if (!this.has(name)) return undefined;
    const path = this.one(name);
    if (path.trim() === '') throw new FlagError(name, 'must not be empty');
    return path;
  }

  choice(name: string): string {
    const value = this.one(name);
    const choices = this.flags[name]?.choices ?? [];
    if (!choices.includes(value)) {
      const listed = choices.length > 1 ? `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}` : choices.join('');
      throw new FlagError(name, `must be ${listed}, got ${JSON.stringify(value)}`);
    }
    return value;
  }
}

/** A namespace name: a DNS-1123 label. */
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function namespaceScope(given: Given): NamespaceScope {
  const names = parseList(given.all('namespace'));
  if (given.has('namespace-selector')) {
    if (given.has('namespace')) throw new FlagError('namespace-selector', 'cannot be combined with --namespace');
    try {
      return { selector: parseLabelSelector(given.one('namespace-selector')) };
    } catch (error) {
      if (error instanceof SelectorError) throw new FlagError('namespace-selector', error.message);
      throw error;
    }
  }
  if (!given.has('namespace')) return { all: true };
  if (names.length === 0) throw new FlagError('namespace', 'names no namespace');
  const bad = names.find((name) => !NAMESPACE_NAME.test(name));
  if (bad !== undefined) throw new FlagError('namespace', `${JSON.stringify(bad.slice(0, 100))} is not a namespace name`);
  return { names: [...new Set(names)].sort() };
}

function workloadKinds(given: Given): BuiltinKind[] {
  const kinds = parseList([given.one('workload-kinds')]).map((name) => {
    const kind = BUILTIN_KINDS.find((k) => k.toLowerCase() === name.toLowerCase());
    if (!kind) throw new FlagError('workload-kinds', `unknown kind ${JSON.stringify(name.slice(0, 100))} (kinds: ${BUILTIN_KINDS.join(', ')}; custom resources: --workload-resource)`);
    return kind;
  });
  return [...new Set(kinds)];
}

/** GROUP/VERSION/RESOURCE[:FIELD.PATH], e.g. argoproj.io/v1alpha1/rollouts or apps.kruise.io/v1alpha1/clonesets:spec.template. */
export function parseWorkloadResource(value: string): CustomResource {
  const match = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)\/([a-z0-9]+)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)(?::(.*))?$/.exec(value.trim());
  if (!match) throw new FlagError('workload-resource', `expected GROUP/VERSION/RESOURCE[:FIELD.PATH] in lower case, e.g. argoproj.io/v1alpha1/rollouts, got ${JSON.stringify(value.slice(0, 200))}`);
  const path = (match[6] ?? 'spec.template').split('.');
  if (path.some((key) => !/^[A-Za-z0-9_-]+$/.test(key))) throw new FlagError('workload-resource', `FIELD.PATH must be dot-separated field names, got ${JSON.stringify(match[6]?.slice(0, 200))}`);
  return { group: match[1] as string, version: match[3] as string, resource: match[4] as string, templatePath: path };
}

function engineSettings(given: Given): EngineSettings {
  const mirrorRules = (name: string, replaces: boolean): MirrorRule[] =>
    given.all(name).map((rule) => {
      try {
        return parseMirrorRule(rule, replaces);
      } catch (error) {
        throw new FlagError(name, (error as Error).message);
      }
    });
  return {
    namespaceScope: namespaceScope(given),
    workloadKinds: workloadKinds(given),
    customResources: given.all('workload-resource').map(parseWorkloadResource),
    skipInactiveWorkloads: given.has('skip-inactive-workloads') ? given.bool('skip-inactive-workloads') : false,
    listTimeoutMs: parseDuration('list-timeout', given.one('list-timeout')),
    registryTimeoutMs: parseDuration('registry-timeout', given.one('registry-timeout')),
    ignoredImages: parseList(given.all('ignored-images')),
    kubeconfig: given.optionalPath('kubeconfig'),
    maxConcurrentChecks: parseCount('max-concurrent-checks', given.one('max-concurrent-checks')),
    maxConcurrentPerRegistry: parseCount('max-concurrent-per-registry', given.one('max-concurrent-per-registry')),
    allowPlainHttp: parseList(given.all('allow-plain-http')),
    logLevel: given.choice('log-level') as Level,
    dockerConfig: given.optionalPath('docker-config'),
    registryCaFiles: given.all('registry-ca-file').map((path) => {
      if (path.trim() === '') throw new FlagError('registry-ca-file', 'must not be empty');
      return path;
    }),
    skipRegistryCertVerification: given.has('skip-registry-cert-verification') ? given.bool('skip-registry-cert-verification') : false,
    imageMirrors: [...mirrorRules('image-mirror', false), ...mirrorRules('image-mirror-only', true)],
    defaultRegistry: given.has('default-registry') ? registryLocation(given.one('default-registry')) : undefined,
    ...credentialProviderFlags(given),
  };
}

function credentialProviderFlags(given: Given): Pick<EngineSettings, 'credentialProviderConfig' | 'credentialProviderBinDir' | 'cloudCredentials'> {
  const config = given.optionalPath('image-credential-provider-config');
  const binDir = given.optionalPath('image-credential-provider-bin-dir');
  if (config && !binDir) throw new FlagError('image-credential-provider-bin-dir', 'is needed with --image-credential-provider-config');
  if (binDir && !config) throw new FlagError('image-credential-provider-config', 'is needed with --image-credential-provider-bin-dir');
  const value = given.one('cloud-credentials').trim();
  let cloudCredentials: CloudChoice;
  if (value === 'auto' || value === 'none') cloudCredentials = value;
  else {
    const names = parseList([value]);
    const unknown = names.find((name) => !(CLOUDS as readonly string[]).includes(name));
    if (unknown !== undefined || names.length === 0) throw new FlagError('cloud-credentials', `must be auto, none or a comma list of ${CLOUDS.join(', ')}, got ${JSON.stringify(value.slice(0, 100))}`);
    cloudCredentials = [...new Set(names)] as Cloud[];
  }
  return { credentialProviderConfig: config, credentialProviderBinDir: binDir, cloudCredentials };
}

export function parseFlags(argv: readonly string[]): ParseOutcome {
  const given = new Given(tokenize(argv, FLAGS, false).values, FLAGS);
  if (given.has('help') && given.bool('help')) return { action: 'help' };
  if (given.has('version') && given.bool('version')) return { action: 'version' };
  const engine = engineSettings(given);
  const bind = parseBindAddress(given.one('bind-address'));
  return {
    action: 'run',
    config: {
      ...engine,
      bindHost: bind.host,
      bindPort: bind.port,
      checkIntervalMs: parseDuration('check-interval', given.one('check-interval')),
      scrapeTimeoutMs: parseDuration('scrape-timeout', given.one('scrape-timeout')),
      listMaxAgeMs: parseDuration('list-max-age', given.one('list-max-age')),
      checkPlatforms: given.bool('check-platforms'),
      webConfigFile: given.optionalPath('web-config-file'),
    },
  };
}

/** The flags of `check`: the engine's, and how to report. */
const ENGINE_FLAGS = [
  'namespace',
  'namespace-selector',
  'workload-kinds',
  'workload-resource',
  'skip-inactive-workloads',
  'ignored-images',
  'kubeconfig',
  'registry-timeout',
  'list-timeout',
  'max-concurrent-checks',
  'max-concurrent-per-registry',
  'allow-plain-http',
  'docker-config',
  'registry-ca-file',
  'skip-registry-cert-verification',
  'image-mirror',
  'image-mirror-only',
  'default-registry',
  'image-credential-provider-config',
  'image-credential-provider-bin-dir',
  'cloud-credentials',
] as const;

export const CHECK_FLAGS: FlagSpecs = {
  ...Object.fromEntries(ENGINE_FLAGS.map((name) => [name, FLAGS[name] as FlagSpec])),
  'docker-config': {
    kind: 'string',
    help: 'Path to a docker config.json whose credentials are tried after the pull secrets in the manifests. Default: $DOCKER_CONFIG/config.json, then ~/.docker/config.json, when one exists.',
  },
  cluster: { kind: 'bool', help: 'Check the workloads of the cluster (kubeconfig as for the exporter) instead of manifests.' },
  output: { kind: 'choice', choices: ['table', 'json'], default: 'table', help: 'table (for people) or json (one document, for programs).' },
  'fail-on': {
    kind: 'choice',
    choices: ['absent', 'unknown'],
    default: 'unknown',
    help: 'unknown: exit 3 when some image could not be checked (auth, network, rate limit) and none is absent; absent: exit 0 then.',
  },
  'log-level': { kind: 'choice', choices: LEVELS, default: 'error', help: 'Log lines on stderr: debug, info, warn or error.' },
  help: FLAGS.help as FlagSpec,
};

export type CheckParseOutcome = { readonly action: 'check'; readonly config: CheckConfig } | { readonly action: 'help' };

export function parseCheckFlags(argv: readonly string[]): CheckParseOutcome {
  const { values, positionals } = tokenize(argv, CHECK_FLAGS, true);
  const given = new Given(values, CHECK_FLAGS);
  if (given.has('help') && given.bool('help')) return { action: 'help' };
  const engine = engineSettings(given);
  const cluster = given.has('cluster') && given.bool('cluster');
  if (cluster && positionals.length > 0) throw new FlagError('cluster', `checks the cluster's workloads, not files (got ${JSON.stringify(positionals[0])})`);
  if (!cluster && positionals.length === 0) throw new UsageError('check: name manifest files or directories, "-" for stdin, or --cluster (see check --help)');
  if (positionals.filter((p) => p === '-').length > 1) throw new UsageError('check: "-" (stdin) given more than once');
  // Manifests say which workloads they hold: the flags that choose a cluster's workloads do not apply.
  const clusterOnly = ['namespace', 'namespace-selector', 'workload-kinds', 'workload-resource', 'skip-inactive-workloads', 'kubeconfig', 'list-timeout'].find((name) => given.has(name));
  if (!cluster && clusterOnly) throw new FlagError(clusterOnly, 'applies only with --cluster');
  return {
    action: 'check',
    config: {
      ...engine,
      inputs: positionals,
      cluster,
      output: given.choice('output') as CheckConfig['output'],
      failOn: given.choice('fail-on') as FailOn,
    },
  };
}

function flagLines(flags: FlagSpecs): string[] {
  const lines: string[] = [];
  for (const [name, spec] of Object.entries(flags)) {
    const arg = spec.kind === 'bool' ? '' : '=VALUE';
    lines.push(`  --${name}${arg}`);
    lines.push(`      ${spec.help}${spec.default !== undefined ? ` (default ${spec.default})` : ''}`);
  }
  return lines;
}

export function helpText(): string {
  const lines = [
    'Usage: k8s-image-existence-exporter [flags]',
    '       k8s-image-existence-exporter check [flags] [PATH|-]...   (check --help)',
    '',
    'Flags:',
    ...flagLines(FLAGS),
  ];
  return `${lines.join('\n')}\n`;
}

export function checkHelpText(): string {
  const lines = [
    'Usage: k8s-image-existence-exporter check [flags] PATH|- ...',
    '       k8s-image-existence-exporter check [flags] --cluster',
    '',
    'Checks every image of the pod templates in Kubernetes manifests (files, directories searched for',
    '*.yaml, *.yml and *.json, or "-" for stdin), or of the cluster\'s workloads with --cluster.',
    '',
    'Exit codes: 0 every image is present; 1 some image is absent or a reference is invalid;',
    '3 some image could not be checked and none is absent (see --fail-on); 2 wrong command line, or an',
    'input unreadable, unparsable or with nothing to check; 4 check itself failed (a bug: please report it).',
    '',
    'Flags:',
    ...flagLines(CHECK_FLAGS),
  ];
  return `${lines.join('\n')}\n`;
}
