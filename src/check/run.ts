/**
 * `k8s-image-existence-exporter check`: one collection by the exporter's engine, over the workloads
 * of manifests (or of the cluster with --cluster), with no deadline, reported once. Resolves with
 * the exit code; every problem of the command line or the input is a one-line message and 2.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { WorkloadSource } from '../engine/collector.js';
import type { CredentialSource } from '../credentials/source.js';
import { checkHelpText, parseCheckFlags, UsageError, type CheckConfig } from '../flags/config.js';
import { Keyring } from '../credentials/keyring.js';
import { credentialKeyring, readDockerConfigFile, type DockerConfigFile } from '../credentials/secret-keyrings.js';
import { createEngine, loadCluster, startUp, type Engine, type EngineDeps } from '../engine/engine.js';
import type { NodePullConfig } from '../engine/node-pull-config.js';
import type { Workload } from '../kubernetes/workloads.js';
import { createLogger, type Logger } from '../utils/log.js';
import type { RegistryCredential } from '../registry/credentials.js';
import type { CredentialProviders } from '../credentials/providers/providers.js';
import { InputError, readInputs } from './inputs.js';
import { ManifestCredentials } from './manifest-credentials.js';
import { ManifestError, readManifests, type ManifestContents, type ManifestSource, type ManifestWorkload } from './manifests.js';
import { showProgress } from './progress.js';
import { checkedContainers, exitCodeOf, summarize, type SourceLocation } from './report.js';
import { OUTPUTS } from './output/index.js';
import { HOMEPAGE, NAME, VERSION } from '../utils/version.js';

/** Where the process talks to: the real ones, or a test's. */
export interface CheckIo {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

/** No deadline: every check finishes on its own, bounded by --registry-timeout per request. */
const ONE_DAY_MS = 24 * 60 * 60 * 1000;

/** The CI job's own credentials, and the docker config they were read from. */
interface NodeCredentials {
  readonly keyring: Keyring<RegistryCredential>;
  readonly path: string | undefined;
}

/** What the checks are run over: workloads, their credentials, and where each came from. */
interface Subject {
  readonly listings: WorkloadSource;
  readonly kinds?: readonly string[];
  readonly skipInactive?: boolean;
  readonly credentials: CredentialSource;
  readonly locationOf: (workload: Workload) => SourceLocation | undefined;
  readonly warnings: readonly string[];
}

export async function runCheck(argv: readonly string[], io: CheckIo = process, deps: Partial<EngineDeps> = {}): Promise<number> {
  const say = (stream: NodeJS.WritableStream, text: string) => new Promise<void>((resolve) => stream.write(text, () => resolve()));
  const usage = async (error: unknown): Promise<number> => {
    if (!(error instanceof UsageError || error instanceof InputError || error instanceof ManifestError)) throw error;
    await say(io.stderr, `${(error as Error).message}\n`);
    return 2;
  };
  let config: CheckConfig;
  try {
    const parsed = parseCheckFlags(argv);
    if (parsed.action === 'help') {
      await say(io.stdout, checkHelpText());
      return 0;
    }
    config = parsed.config;
  } catch (error) {
    return usage(error);
  }
  const log = deps.logger ?? createLogger(config.logLevel, (line) => io.stderr.write(line));
  const warn = (warning: string) => io.stderr.write(`warning: ${warning}\n`);
  let registryCaPems: string[];
  let nodePullConfig: NodePullConfig | undefined;
  let subject: Subject;
  try {
    const started = await startUp(config, { logger: log, env: io.env }, ({ dockerConfig }) => nodeCredentials(config, dockerConfig, io.env, warn));
    const { own: node, providers } = started;
    ({ registryCaPems, nodePullConfig } = started);
    subject = config.cluster ? await clusterSubject(config, log, node.path, providers) : await manifestSubject(config, io.stdin, node.keyring, providers, warn);
  } catch (error) {
    return usage(error);
  }
  subject.warnings.forEach(warn);

  const engine: Engine = createEngine(config, { checkIntervalMs: ONE_DAY_MS, checkPlatforms: false }, { ...deps, logger: log, registryCaPems, nodePullConfig });
  const { listings, kinds, skipInactive, credentials } = subject;
  const collector = engine.collector({ listings, kinds, skipInactive, credentials, onRecheckRound: () => undefined });
  const { states } = engine.checker;
  const progress = io.stderr.isTTY ? showProgress(io.stderr, () => ({ done: states.size, total: states.size + engine.checker.pending })) : undefined;
  let snapshot;
  try {
    snapshot = await collector.collect(Date.now() + ONE_DAY_MS);
  } finally {
    progress?.stop();
    await engine.transport.destroy().catch(() => undefined);
  }

  const unlisted = snapshot.lists.filter((list) => !list.up).map((list) => (list.namespace === undefined ? list.kind : `${list.kind} in ${list.namespace}`));
  const containers = checkedContainers(snapshot.rows, subject.locationOf);
  snapshot = undefined; // its rows are copied out: not kept while the report is written
  const summary = summarize(containers, unlisted);
  const code = exitCodeOf(summary, config.failOn);
  const colour = io.stdout.isTTY === true && !('NO_COLOR' in io.env);
  const report = { containers, summary, exitCode: code, warnings: subject.warnings, failOn: config.failOn };
  const context = { colour, cwd: process.cwd(), tool: { name: NAME, version: VERSION, informationUri: HOMEPAGE } };
  for (const piece of OUTPUTS[config.output](report, context)) await say(io.stdout, piece);
  return code;
}

/**
 * The CI job's own credentials: --docker-config (which must be readable), else the first docker CLI
 * config that exists, $DOCKER_CONFIG/config.json then ~/.docker/config.json (a broken one is a
 * warning: the run goes on without it). `dockerConfig` is --docker-config as read at start-up.
 */
async function nodeCredentials(
  config: CheckConfig,
  dockerConfig: DockerConfigFile | undefined,
  env: NodeJS.ProcessEnv,
  warn: (warning: string) => void,
): Promise<NodeCredentials> {
  if (config.dockerConfig) return { keyring: dockerConfigKeyring(config.dockerConfig, dockerConfig!, warn), path: config.dockerConfig };
  const candidates = [...(env.DOCKER_CONFIG ? [join(env.DOCKER_CONFIG, 'config.json')] : []), join(env.HOME ?? homedir(), '.docker', 'config.json')];
  const path = candidates.find((candidate) => existsSync(candidate));
  if (!path) return { keyring: Keyring.empty(), path: undefined };
  try {
    return { keyring: dockerConfigKeyring(path, await readDockerConfigFile(path), warn), path };
  } catch (error) {
    warn(`${(error as Error).message}; going on without its credentials`);
    return { keyring: Keyring.empty(), path: undefined };
  }
}

function dockerConfigKeyring(path: string, file: DockerConfigFile, warn: (warning: string) => void): Keyring<RegistryCredential> {
  // Docker Desktop keeps credentials in a helper program; this command does not run helpers.
  if (file.namesHelpers) warn(`${path} names credential helpers (credsStore, credHelpers): only the credentials written in the file are used`);
  return credentialKeyring(file.entries, 'docker-config');
}

async function manifestSubject(
  config: CheckConfig,
  stdin: NodeJS.ReadableStream,
  node: Keyring<RegistryCredential>,
  providers: CredentialProviders,
  warn: (warning: string) => void,
): Promise<Subject> {
  const sources = await readInputs(config.inputs, stdin);
  const manifests = readManifests(sources, { customResources: config.customResources });
  nothingToRead(sources, manifests, config.skipNonManifests ? warn : undefined);
  const byKind = new Map<string, ManifestWorkload[]>();
  for (const workload of manifests.workloads) {
    const list = byKind.get(workload.kind);
    if (list) list.push(workload);
    else byKind.set(workload.kind, [workload]);
  }
  return {
    listings: { get: async (kind) => ({ workloads: byKind.get(kind) ?? [], states: [] }) },
    kinds: [...byKind.keys()],
    credentials: new ManifestCredentials(manifests, node, providers),
    // Only workloads of the manifests are ever asked about here.
    locationOf: (workload) => {
      const { source: file, line, template } = workload as ManifestWorkload;
      return template === undefined ? { file, line } : { file, line, template };
    },
    warnings: manifests.warnings,
  };
}

/**
 * Refuses a run that would check nothing and pass: an input (a file, a directory, stdin) holding no
 * Kubernetes object — empty stdin from a failed `helm template` in a pipe, a file of values — or
 * inputs without a single container to check.
 */
function nothingToRead(sources: readonly ManifestSource[], manifests: ManifestContents, skipped?: (warning: string) => void): void {
  const objectsByInput = new Map<string, number>();
  for (const source of sources) {
    const input = source.input ?? source.name;
    objectsByInput.set(input, (objectsByInput.get(input) ?? 0) + (manifests.objects.get(source.name) ?? 0));
  }
  for (const [input, objects] of objectsByInput) {
    if (objects > 0) continue;
    const what = `${input === '-' ? 'standard input' : input}: no Kubernetes objects (apiVersion and kind) in it`;
    if (!skipped) throw new InputError(`${what}, nothing to check`);
    skipped(`${what}, skipped (--skip-non-manifests)`);
  }
  if (!manifests.workloads.some((workload) => workload.containers.length > 0)) {
    if (!skipped) throw new InputError('no pod templates with containers in the manifests, nothing to check');
    skipped('no pod templates with containers in the manifests, nothing to check (--skip-non-manifests: not an error)');
  }
}

/** The cluster's workloads and pull secrets, read as the exporter reads them. */
async function clusterSubject(config: CheckConfig, logger: Logger, dockerConfigPath: string | undefined, providers: CredentialProviders): Promise<Subject> {
  const { clusterCredentials, clusterWorkloads, loadKubeConfig } = await loadCluster();
  let kubeConfig;
  try {
    kubeConfig = loadKubeConfig(config.kubeconfig);
  } catch (error) {
    throw new UsageError(`check --cluster: ${(error as Error).message}`);
  }
  return {
    ...clusterWorkloads(config, kubeConfig, { logger, maxAgeMs: ONE_DAY_MS }),
    credentials: clusterCredentials(config, kubeConfig, { logger, providers, dockerConfigPath }),
    locationOf: () => undefined,
    warnings: [],
  };
}
