/**
 * The settings of the exporter and of its `check` command, from their command lines (Go-style
 * flags, as the original exporter took them; the flags are in flags/table.ts). Pure: turns argv
 * into a Config (or a CheckConfig) or a UsageError; a FlagError names the flag.
 */
import type { CloudChoice } from '../credentials/providers/clouds.js';
import { FlagError, flagLines, UsageError } from './syntax.js';
import { CommandLine, flagsOf, type FlagOf, type FlagReader } from './table.js';
import type { Location, MirrorRule } from '../image/mirror.js';
import type { Level } from '../utils/log.js';
import type { NamespaceScope } from '../kubernetes/namespaces.js';
import type { BuiltinKind, CustomResource } from '../kubernetes/workloads.js';

export { FlagError, UsageError } from './syntax.js';
export { FLAGS, parseBindAddress } from './table.js';
export { parseWorkloadResource } from '../kubernetes/workloads.js';

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
  /** Where nodes pull from, from their own configuration: at most one of the two (and no --image-mirror). */
  readonly nodePullConfig: NodePullConfigFlag | undefined;
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
  /** --admission-webhook and its options; undefined: no webhook. */
  readonly admission?: AdmissionSettings | undefined;
}

export interface AdmissionSettings {
  /** --admission-deny-absent. */
  readonly denyAbsent: boolean;
  /** --admission-client-ca-file. */
  readonly clientCaFile: string | undefined;
}

/** What `check` reports as a failure besides absent images and bad references. */
export type FailOn = 'absent' | 'unknown';

/** How `check` writes its report (--output). */
export type OutputFormat = 'table' | 'json' | 'sarif' | 'junit' | 'github';

/** The settings of `check`. */
export interface CheckConfig extends EngineSettings {
  /** Files, directories and `-` (stdin); empty with --cluster. */
  readonly inputs: readonly string[];
  readonly cluster: boolean;
  readonly output: OutputFormat;
  readonly failOn: FailOn;
  /** Inputs without Kubernetes objects are skipped with a warning; nothing to check is then exit 0. */
  readonly skipNonManifests: boolean;
}

export type ParseOutcome =
  | { readonly action: 'run'; readonly config: Config }
  | { readonly action: 'help' }
  | { readonly action: 'version' };

/** Flags both commands take. */
type EngineFlag = FlagOf<'exporter'> & FlagOf<'check'>;

/** The settings both commands share, read in the order that decides which wrong flag is reported first. */
function engineSettings(flags: FlagReader<EngineFlag>): EngineSettings {
  return {
    namespaceScope: namespaceScope(flags),
    workloadKinds: flags.get('workload-kinds'),
    customResources: flags.get('workload-resource'),
    skipInactiveWorkloads: flags.get('skip-inactive-workloads'),
    listTimeoutMs: flags.get('list-timeout'),
    registryTimeoutMs: flags.get('registry-timeout'),
    ignoredImages: flags.get('ignored-images'),
    kubeconfig: flags.get('kubeconfig'),
    maxConcurrentChecks: flags.get('max-concurrent-checks'),
    maxConcurrentPerRegistry: flags.get('max-concurrent-per-registry'),
    allowPlainHttp: flags.get('allow-plain-http'),
    logLevel: flags.get('log-level'),
    dockerConfig: flags.get('docker-config'),
    registryCaFiles: flags.get('registry-ca-file'),
    skipRegistryCertVerification: flags.get('skip-registry-cert-verification'),
    imageMirrors: [...flags.get('image-mirror'), ...flags.get('image-mirror-only')],
    defaultRegistry: flags.get('default-registry'),
    nodePullConfig: nodePullConfig(flags),
    ...credentialProviders(flags),
  };
}

/** All namespaces, the ones --namespace names, or those --namespace-selector matches: one of the two flags. */
function namespaceScope(flags: FlagReader<EngineFlag>): NamespaceScope {
  if (!flags.has('namespace-selector')) return flags.get('namespace');
  if (flags.has('namespace')) throw new FlagError('namespace-selector', 'cannot be combined with --namespace');
  return { selector: flags.get('namespace-selector')! };
}

/** A node's own pull configuration file, by the flag that names it. */
export interface NodePullConfigFlag {
  readonly flag: 'containerd-hosts-dir' | 'registries-conf';
  readonly path: string;
}

/**
 * One description of where nodes pull from: a node runs one container runtime, and two
 * descriptions of it (or flags restating one) would only drift apart.
 */
function nodePullConfig(flags: FlagReader<EngineFlag>): NodePullConfigFlag | undefined {
  const given = (['containerd-hosts-dir', 'registries-conf'] as const).filter((flag) => flags.get(flag) !== undefined);
  if (given.length === 0) return undefined;
  const flag = given[0] as NodePullConfigFlag['flag'];
  if (given.length > 1) throw new FlagError('registries-conf', 'cannot be combined with --containerd-hosts-dir: give the configuration of the runtime the nodes run');
  const mirrorFlag = (['image-mirror', 'image-mirror-only'] as const).find((name) => flags.get(name).length > 0);
  if (mirrorFlag) throw new FlagError(mirrorFlag, `cannot be combined with --${flag}: the file already says where nodes pull from`);
  return { flag, path: flags.get(flag) as string };
}

/** The kubelet's plugins need both of their flags. */
function credentialProviders(flags: FlagReader<EngineFlag>): Pick<EngineSettings, 'credentialProviderConfig' | 'credentialProviderBinDir' | 'cloudCredentials'> {
  const config = flags.get('image-credential-provider-config');
  const binDir = flags.get('image-credential-provider-bin-dir');
  if (config && !binDir) throw new FlagError('image-credential-provider-bin-dir', 'is needed with --image-credential-provider-config');
  if (binDir && !config) throw new FlagError('image-credential-provider-config', 'is needed with --image-credential-provider-bin-dir');
  return { credentialProviderConfig: config, credentialProviderBinDir: binDir, cloudCredentials: flags.get('cloud-credentials') };
}

export function parseFlags(argv: readonly string[]): ParseOutcome {
  const flags = new CommandLine('exporter', argv);
  if (flags.get('help')) return { action: 'help' };
  if (flags.get('version')) return { action: 'version' };
  const engine = engineSettings(flags);
  const bind = flags.get('bind-address');
  return {
    action: 'run',
    config: {
      ...engine,
      bindHost: bind.host,
      bindPort: bind.port,
      checkIntervalMs: flags.get('check-interval'),
      scrapeTimeoutMs: flags.get('scrape-timeout'),
      listMaxAgeMs: flags.get('list-max-age'),
      checkPlatforms: flags.get('check-platforms'),
      webConfigFile: flags.get('web-config-file'),
      admission: admissionSettings(flags),
    },
  };
}

/** The webhook's flags: its options only with it, and it only with a listener that may speak TLS. */
function admissionSettings(flags: CommandLine<'exporter'>): AdmissionSettings | undefined {
  if (!flags.get('admission-webhook')) {
    const option = (['admission-deny-absent', 'admission-client-ca-file'] as const).find((name) => flags.has(name));
    if (option) throw new FlagError(option, 'applies only with --admission-webhook');
    return undefined;
  }
  if (flags.get('web-config-file') === undefined) {
    throw new FlagError('admission-webhook', 'needs --web-config-file with tls_server_config: the API server calls webhooks over HTTPS only');
  }
  return { denyAbsent: flags.get('admission-deny-absent'), clientCaFile: flags.get('admission-client-ca-file') };
}

export type CheckParseOutcome = { readonly action: 'check'; readonly config: CheckConfig } | { readonly action: 'help' };

export function parseCheckFlags(argv: readonly string[]): CheckParseOutcome {
  const flags = new CommandLine('check', argv);
  const { positionals } = flags;
  if (flags.get('help')) return { action: 'help' };
  const engine = engineSettings(flags);
  const cluster = flags.get('cluster');
  if (cluster && positionals.length > 0) throw new FlagError('cluster', `checks the cluster's workloads, not files (got ${JSON.stringify(positionals[0])})`);
  if (!cluster && positionals.length === 0) throw new UsageError('check: name manifest files or directories, "-" for stdin, or --cluster (see check --help)');
  if (positionals.filter((p) => p === '-').length > 1) throw new UsageError('check: "-" (stdin) given more than once');
  // Manifests say which workloads they hold: the flags that choose a cluster's workloads do not apply
  // (the first given, in the order of the help, is named).
  const clusterOnly = flagsOf('check').find((flag) => flag.clusterOnly && flags.has(flag.name));
  if (!cluster && clusterOnly) throw new FlagError(clusterOnly.name, 'applies only with --cluster');
  return {
    action: 'check',
    config: { ...engine, inputs: positionals, cluster, output: flags.get('output'), failOn: flags.get('fail-on'), skipNonManifests: flags.get('skip-non-manifests') },
  };
}

export function helpText(): string {
  const lines = [
    'Usage: k8s-image-existence-exporter [flags]',
    '       k8s-image-existence-exporter check [flags] [PATH|-]...   (check --help)',
    '',
    'Flags:',
    ...flagLines(flagsOf('exporter')),
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
    'A workload (or pod template) annotated k8s-image-existence-exporter/ignore: "true" (or a comma-separated',
    'list of container names) is not checked: its containers are reported as skipped, as are --ignored-images.',
    '',
    'Exit codes: 0 every image is present; 1 some image is absent or a reference is invalid;',
    '3 some image could not be checked and none is absent (see --fail-on); 2 wrong command line, or an',
    'input unreadable, unparsable or with nothing to check; 4 check itself failed (a bug: please report it).',
    '',
    'Flags:',
    ...flagLines(flagsOf('check')),
  ];
  return `${lines.join('\n')}\n`;
}
