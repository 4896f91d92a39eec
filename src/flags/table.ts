/**
 * Every flag of both commands, once: its name, how its values are read (a parser that throws a
 * FlagError naming it), its default, its help, and which commands take it. Tokenizing, parsing and
 * the help text follow from it; config.ts builds each command's typed settings from its values.
 */
import { parseCloudChoice } from '../credentials/providers/clouds.js';
import { parseMirrorRule, parseRegistryLocation } from '../image/mirror.js';
import { parseLabelSelector } from '../kubernetes/label-selector.js';
import { parseNamespaceNames, type NamespaceScope } from '../kubernetes/namespaces.js';
import { BUILTIN_KINDS, customSourceId, parseWorkloadKinds, parseWorkloadResource, type CustomResource } from '../kubernetes/workloads.js';
import { bool, choice, count, duration, each, FlagError, list, listOf, one, optional, optionalPath, paths, tokenize, type ValueType } from './syntax.js';

export type Command = 'exporter' | 'check';

interface FlagSpec {
  /** The commands that take it. */
  readonly for: readonly Command[];
  /** `check` takes it only with --cluster: it chooses a cluster's workloads, which manifests name themselves. */
  readonly clusterOnly?: true;
  readonly value: ValueType<unknown>;
  readonly help: string;
  /** Shown in the help, and read as if given when the flag is not. */
  readonly default?: string;
  /** May be given more than once (values accumulate). */
  readonly repeatable?: boolean;
  /** `check`'s help and default, where they differ from the exporter's. */
  readonly inCheck?: { readonly help: string; readonly default?: string };
}

const EXPORTER = ['exporter'] as const;
const CHECK = ['check'] as const;
const BOTH = ['exporter', 'check'] as const;

/** "host:port", ":port" or "[ipv6]:port"; no host: all interfaces. Throws the problem, for the flag's error. */
export function parseBindAddress(value: string): { host: string | undefined; port: number } {
  const match = /^(?:\[([0-9A-Fa-f:.%\w-]+)\]|([^:\s[\]]*)):(\d{1,5})$/.exec(value.trim());
  if (!match) throw new Error(`expected ":port", "host:port" or "[ipv6]:port", got ${JSON.stringify(value)}`);
  const port = Number(match[3]);
  if (port > 65_535) throw new Error(`port ${port} is out of range`);
  const host = match[1] ?? (match[2] || undefined);
  return { host, port };
}

/** --workload-resource, each value parsed once; one resource named twice is refused (which would win?). */
const workloadResources: ValueType<CustomResource[]> = {
  parse: (values, flag) => {
    const resources = each(parseWorkloadResource).parse(values, flag);
    const seen = new Set<string>();
    for (const resource of resources) {
      const id = customSourceId(resource);
      if (seen.has(id)) throw new FlagError(flag, `${id} is given more than once`);
      seen.add(id);
    }
    return resources;
  },
};

/** In the exporter's help order. */
export const FLAGS = {
  'bind-address': { for: EXPORTER, value: one(parseBindAddress), default: ':8080', help: 'Address to listen on: ":port", "host:port" or "[::1]:port".' },
  'check-interval': {
    for: EXPORTER,
    value: duration,
    default: '5m',
    help: 'How long a check result is reused before the image is checked again (Go duration: 90s, 5m, 1h30m).',
  },
  'ignored-images': {
    for: BOTH,
    value: list,
    repeatable: true,
    help: 'Comma-separated images not to check, as written in the spec or normalized; "*" matches any characters. Their containers are reported as skipped.',
  },
  kubeconfig: { for: BOTH, clusterOnly: true, value: optionalPath, help: 'Path to a kubeconfig. Default: in-cluster config, then $KUBECONFIG or ~/.kube/config.' },
  'scrape-timeout': {
    for: EXPORTER,
    value: duration,
    default: '10s',
    help: "Answer /metrics within this time when Prometheus sends no X-Prometheus-Scrape-Timeout-Seconds header.",
  },
  'registry-timeout': { for: BOTH, value: duration, default: '10s', help: 'Timeout of connecting to a registry or token service, and of waiting for its answer.' },
  'list-max-age': {
    for: EXPORTER,
    value: duration,
    default: '30s',
    help: 'A scrape answers from the newest workload listing; one older than this is listed anew for later scrapes.',
  },
  'list-timeout': { for: BOTH, clusterOnly: true, value: duration, default: '60s', help: 'Timeout of one page of a workload or service-account list, and of reading a pull secret.' },
  'max-concurrent-checks': { for: BOTH, value: count, default: '32', help: 'Registry requests running at once, over all registries (shared fairly between them).' },
  'max-concurrent-per-registry': { for: BOTH, value: count, default: '16', help: 'Registry requests running at once against one registry host.' },
  'allow-plain-http': {
    for: BOTH,
    value: list,
    repeatable: true,
    help: 'Comma-separated registry hosts (host[:port], "*" globs) spoken to over plain HTTP; credentials may then be sent over HTTP to them.',
  },
  'docker-config': {
    for: BOTH,
    value: optionalPath,
    help: 'Path to a docker config.json whose credentials are tried after the pull secrets (the nodes\' own credentials).',
    inCheck: {
      help: 'Path to a docker config.json whose credentials are tried after the pull secrets in the manifests. Default: $DOCKER_CONFIG/config.json, then ~/.docker/config.json, when one exists.',
    },
  },
  'registry-ca-file': {
    for: BOTH,
    value: paths,
    repeatable: true,
    help: 'PEM file of CA certificates trusted for registries in addition to the system roots. Repeatable.',
  },
  'skip-registry-cert-verification': { for: BOTH, value: bool, help: 'Do not verify registry TLS certificates (insecure).' },
  'image-mirror': {
    for: BOTH,
    value: each((rule) => parseMirrorRule(rule, false)),
    repeatable: true,
    help: 'original=mirror: nodes pull images of "original" (registry[/path]) through "mirror" first, then from the original, e.g. docker.io=mirror.example.com/hub. Only the original can prove an image absent. Repeatable.',
  },
  'image-mirror-only': {
    for: BOTH,
    value: each((rule) => parseMirrorRule(rule, true)),
    repeatable: true,
    help: 'original=mirror: nodes pull images of "original" only from "mirror" (air-gapped clusters): the mirror\'s answer is final. Repeatable.',
  },
  'containerd-hosts-dir': {
    for: BOTH,
    value: optionalPath,
    help:
      "containerd's hosts directory as the nodes have it (config_path, usually /etc/containerd/certs.d): images are checked where containerd would pull them (each <host>/hosts.toml and _default: mirrors, server, capabilities, ca, client, skip_verify, override_path, header). Read again when it changes.",
  },
  'registries-conf': {
    for: BOTH,
    value: optionalPath,
    help:
      "CRI-O's registries.conf as the nodes have it (usually /etc/containers/registries.conf), with the registries.conf.d drop-ins beside it: prefixes, location rewrites, mirrors, pull-from-mirror, insecure, blocked. Read again when it changes.",
  },
  'image-credential-provider-config': {
    for: BOTH,
    value: optionalPath,
    help: "The kubelet's credential-provider config (CredentialProviderConfig, YAML or JSON, or a directory of them): its plugins' credentials are tried after the pull secrets.",
  },
  'image-credential-provider-bin-dir': { for: BOTH, value: optionalPath, help: 'Directory of the credential-provider plugins named in --image-credential-provider-config.' },
  'cloud-credentials': {
    for: BOTH,
    value: one(parseCloudChoice),
    default: 'auto',
    help: 'Built-in cloud registry credentials: auto (each where its identity is present: ecr with AWS IRSA/Pod Identity/keys, gcp with a GCE metadata server, acr with Azure workload identity), none, or a comma list of ecr,gcp,acr.',
  },
  'default-registry': {
    for: BOTH,
    value: optional(parseRegistryLocation),
    help: 'Registry[/path] for images whose name has no registry (instead of docker.io).',
  },
  'check-platforms': {
    for: EXPORTER,
    value: bool,
    default: 'true',
    help: 'Report platforms (like linux/arm64) of the nodes a workload may run on that its image does not provide. Lists the nodes (at most once a minute); --check-platforms=false turns both off.',
  },
  namespace: {
    for: BOTH, clusterOnly: true,
    // Not given: all namespaces (unless --namespace-selector is).
    value: { parse: (values, flag): NamespaceScope => (values.length === 0 ? { all: true } : listOf(parseNamespaceNames).parse(values, flag)) },
    repeatable: true,
    help: 'Comma-separated (and repeatable) namespaces to look at, with namespaced lists only (Roles suffice). Default: all namespaces.',
  },
  'namespace-selector': {
    for: BOTH, clusterOnly: true,
    value: optional(parseLabelSelector),
    help: 'Label selector of the namespaces to look at (e.g. "image-checks!=off", "team in (a,b)"), re-read at most once a minute. Needs list on namespaces.',
  },
  'workload-kinds': {
    for: BOTH, clusterOnly: true,
    value: listOf(parseWorkloadKinds),
    default: BUILTIN_KINDS.join(','),
    help: 'Comma-separated built-in kinds to list: Deployment, StatefulSet, DaemonSet, CronJob, Job (those no CronJob owns), Pod (those no controller owns).',
  },
  'workload-resource': {
    for: BOTH,
    value: workloadResources,
    repeatable: true,
    help:
      'GROUP/VERSION/RESOURCE[:TEMPLATE.PATH][,images=PATH,...]: a custom resource with a pod template at TEMPLATE.PATH (default spec.template), ' +
      'e.g. argoproj.io/v1alpha1/rollouts, and with images at each PATH: dot-separated fields, [*] for every item of an array, naming containers ' +
      '(objects with name and image) or image strings, e.g. argoproj.io/v1alpha1/workflows:images=spec.templates[*].container,spec.templates[*].sidecars[*] ' +
      '(see the README for Argo Workflows, Rollouts and KubeVirt). Repeatable.',
    inCheck: {
      help:
        'GROUP/VERSION/RESOURCE[:TEMPLATE.PATH][,images=PATH,...]: where the pod template (default spec.template) and the images ' +
        '(paths with [*] over arrays, naming containers or image strings) of a custom kind are, e.g. ' +
        'argoproj.io/v1alpha1/workflows:images=spec.templates[*].container,spec.templates[*].sidecars[*]. In manifests it reads the objects ' +
        'of apiVersion GROUP/VERSION whose kind\'s plural (in lower case) is RESOURCE; with --cluster it lists RESOURCE. Repeatable.',
    },
  },
  'skip-inactive-workloads': {
    for: BOTH, clusterOnly: true,
    value: bool,
    help: 'Leave out workloads that run no pods now: replicas 0, suspended CronJobs and Jobs, finished Jobs and Pods, DaemonSets that schedule no pod.',
  },
  'log-level': {
    for: BOTH,
    value: choice('debug', 'info', 'warn', 'error'),
    default: 'info',
    help: 'debug, info, warn or error.',
    inCheck: { default: 'error', help: 'Log lines on stderr: debug, info, warn or error.' },
  },
  'web-config-file': {
    for: EXPORTER,
    value: optionalPath,
    help: 'Path to a web configuration file (the Prometheus exporter-toolkit format) enabling TLS and/or basic auth; re-read when it changes. /healthz stays open for kubelet probes.',
  },
  help: { for: BOTH, value: bool, help: 'Print this help and exit.' },
  version: { for: EXPORTER, value: bool, help: 'Print the version and exit.' },
  // The admission webhook's (README, "Warnings at kubectl apply").
  'admission-webhook': {
    for: EXPORTER,
    value: bool,
    help: 'Serve a validating admission webhook at POST /admission on the TLS listener of --web-config-file (needed: the API server calls webhooks over HTTPS only). It warns about absent images; deploy/admission/ registers it.',
  },
  'admission-deny-absent': {
    for: EXPORTER,
    value: bool,
    help: 'With --admission-webhook: refuse a workload whose new image the registry says does not exist (images that could not be checked are still only warned about).',
  },
  'admission-client-ca-file': {
    for: EXPORTER,
    value: optionalPath,
    help: 'With --admission-webhook: only answer reviews whose TLS client certificate this CA (PEM) signed: the API server\'s, configured in its admission configuration.',
  },
  // check's own
  cluster: { for: CHECK, value: bool, help: 'Check the workloads of the cluster (kubeconfig as for the exporter) instead of manifests.' },
  output: {
    for: CHECK,
    value: choice('table', 'json', 'sarif', 'junit', 'github'),
    default: 'table',
    help: 'table (for people), json (one document, for programs), sarif (SARIF 2.1.0, for code scanning), junit (JUnit XML, for test reports) or github (GitHub Actions annotations).',
  },
  'skip-non-manifests': {
    for: CHECK,
    value: bool,
    help: 'An input holding no Kubernetes object (a CI config or Helm values, as a hook that passes every staged YAML file gives) is skipped with a warning, not an error; with no pod template left at all, check says so and exits 0.',
  },
  'fail-on': {
    for: CHECK,
    value: choice('absent', 'unknown'),
    default: 'unknown',
    help: 'unknown: exit 3 when some image could not be checked (auth, network, rate limit) and none is absent; absent: exit 0 then.',
  },
} as const satisfies Record<string, FlagSpec>;

type Table = typeof FLAGS;
export type FlagName = keyof Table;
/** The flags a command takes. */
export type FlagOf<C extends Command> = { [K in FlagName]: C extends Table[K]['for'][number] ? K : never }[FlagName];
/** A flag's typed value. */
export type ValueOf<K extends FlagName> = ReturnType<Table[K]['value']['parse']>;

/**
 * `check --help` lists its flags in this order (the exporter's follows the table); a test keeps it
 * to the flags the table gives `check`.
 */
export const CHECK_HELP_ORDER: readonly FlagOf<'check'>[] = [
  'namespace', 'namespace-selector', 'workload-kinds', 'skip-inactive-workloads', 'workload-resource',
  'ignored-images', 'kubeconfig', 'registry-timeout', 'list-timeout', 'max-concurrent-checks', 'max-concurrent-per-registry',
  'allow-plain-http', 'docker-config', 'registry-ca-file', 'skip-registry-cert-verification', 'image-mirror', 'image-mirror-only',
  'containerd-hosts-dir', 'registries-conf', 'default-registry', 'image-credential-provider-config', 'image-credential-provider-bin-dir', 'cloud-credentials',
  'cluster', 'output', 'fail-on', 'skip-non-manifests', 'log-level', 'help',
];

function spec(name: string): FlagSpec | undefined {
  return Object.hasOwn(FLAGS, name) ? (FLAGS as Record<string, FlagSpec>)[name] : undefined;
}

/** A flag's help and default for `command`. */
function said(command: Command, flag: FlagSpec): { readonly help: string; readonly default?: string } {
  return command === 'check' ? (flag.inCheck ?? flag) : flag;
}

/** The flags of `command`, in the order of its help, with its help text and default. */
export function flagsOf<C extends Command>(command: C): Array<{ name: FlagOf<C>; help: string; default: string | undefined; takesNoValue: boolean; clusterOnly: boolean }> {
  const names = command === 'check' ? CHECK_HELP_ORDER : Object.keys(FLAGS).filter((name) => spec(name)!.for.includes(command));
  return names.map((name) => {
    const flag = spec(name)!;
    const { help, default: fallback } = said(command, flag);
    return { name: name as FlagOf<C>, help, default: fallback, takesNoValue: flag.value.takesNoValue === true, clusterOnly: flag.clusterOnly === true };
  });
}

/** Reads flags by name. */
export interface FlagReader<F extends FlagName> {
  /** Given on the command line. */
  has(name: F): boolean;
  /** Its typed value, read from what was given or its default. */
  get<K extends F>(name: K): ValueOf<K>;
}

/** A command line read against the table: the flags given, the positional arguments, and each flag's typed value. */
export class CommandLine<C extends Command> implements FlagReader<FlagOf<C>> {
  private readonly values: ReadonlyMap<string, readonly string[]>;
  /** `check`'s files, directories and `-`; the exporter takes none. */
  readonly positionals: readonly string[];

  constructor(
    private readonly command: C,
    argv: readonly string[],
  ) {
    const flagNamed = (name: string) => {
      const flag = spec(name);
      return flag?.for.includes(command) ? flag : undefined;
    };
    ({ values: this.values, positionals: this.positionals } = tokenize(argv, flagNamed, command === 'check'));
  }

  has(name: FlagOf<C>): boolean {
    return this.values.has(name);
  }

  /** Read when asked, so that the caller decides which of several wrong flags is reported. */
  get<K extends FlagOf<C>>(name: K): ValueOf<K> {
    const flag = spec(name)!;
    const fallback = said(this.command, flag).default;
    return flag.value.parse(this.values.get(name) ?? (fallback === undefined ? [] : [fallback]), name) as ValueOf<K>;
  }
}
