/**
 * Metric definitions. The gauges of one answer live in registries made for it (as blackbox_exporter
 * makes one per probe) and read that answer's snapshot in their collect() callbacks: one for the
 * per-container series, whose text is reused while they do not change, one for the gauges about
 * the scrape itself. Process-wide counters and default metrics live in one long-lived registry,
 * rendered last.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry, type MetricObjectWithValues, type MetricType, type MetricValue } from 'prom-client';
import type { ContainerRow, Snapshot } from './collector.js';
import type { ListState } from './listings.js';
import type { AnswerBody } from './shared-answer.js';
import { BUILTIN_KINDS } from './kubernetes/workloads.js';
import { VERSION } from './version.js';

const PREFIX = 'k8s_image_existence_exporter';

/** `…_deployment_image_exists` and so on: one family per kind, named after it in lower case. */
export function existsMetric(kind: string): string {
  return `${PREFIX}_${kind.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_image_exists`;
}

export class ExporterMetrics {
  readonly processRegistry = new Registry();
  readonly completedRechecks: Counter;
  readonly genericErrors: Counter;
  /** The last per-container text and the rows it was made from. */
  private containerText: { readonly rows: readonly ContainerRow[]; readonly text: Buffer } | undefined;

  constructor() {
    collectDefaultMetrics({ register: this.processRegistry });
    // Gauges named *_total break `promtool check metrics`; their per-type twins without the suffix stay.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.processRegistry.removeSingleMetric(name);
    }
    new Gauge({
      name: `${PREFIX}_build_info`,
      help: 'Build information; always 1.',
      labelNames: ['version'],
      registers: [this.processRegistry],
    }).set({ version: VERSION }, 1);
    this.completedRechecks = new Counter({
      name: `${PREFIX}_completed_rechecks_total`,
      help: 'Completed recheck rounds: every image referenced by a scrape checked anew since the previous round (about once per --check-interval).',
      registers: [this.processRegistry],
    });
    this.genericErrors = new Counter({
      name: `${PREFIX}_generic_errors_total`,
      help: 'Image checks that finished without proving presence or absence (registry unreachable, auth failure, bad reference, ...).',
      registers: [this.processRegistry],
    });
  }

  get contentType(): string {
    return this.processRegistry.contentType;
  }

  /**
   * Renders one answer: the per-container series, the scrape's own gauges, then the process-wide
   * metrics. The per-container text is that of the previous answer when its rows are the same:
   * in a steady cluster most answers differ from the last one only in their few small gauges.
   */
  async render(snapshot: Snapshot): Promise<AnswerBody> {
    const { rows } = snapshot;
    let containers = this.containerText;
    if (!containers || !sameRows(containers.rows, rows)) {
      containers = { rows, text: Buffer.from(await containerRegistry(rows).metrics()) };
      this.containerText = containers;
    }
    const rest = (await scrapeRegistry(snapshot).metrics()) + (await this.processRegistry.metrics());
    return [containers.text, Buffer.from(rest)];
  }
}

/** Rows that render the same series: the same container objects (so the same labels), statuses and values. */
function sameRows(a: readonly ContainerRow[], b: readonly ContainerRow[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as ContainerRow;
    const y = b[i] as ContainerRow;
    if (x.container !== y.container || x.status !== y.status || x.exists !== y.exists || x.missingPlatforms !== y.missingPlatforms) return false;
  }
  return true;
}

type Labels<T extends string> = Readonly<Record<T, string>>;
type ExistsLabel = 'namespace' | 'owner_name' | 'container' | 'image';
type StatusLabel = 'namespace' | 'owner_kind' | 'owner_name' | 'container' | 'image' | 'status';
type PlatformLabel = 'namespace' | 'owner_kind' | 'owner_name' | 'container' | 'image' | 'platform';

/**
 * A gauge whose series are produced straight from the answer's rows when the registry renders it:
 * no `set()` per series, so no label hashing and no second map of 10,000s of entries per answer.
 * `seriesOf` adds a row's series (none, one or several) with `add`.
 */
class ContainerGauge<T extends string> extends Gauge<T> {
  constructor(
    private readonly config: { name: string; help: string; labelNames: readonly T[]; registers: Registry[] },
    private readonly rows: readonly ContainerRow[],
    private readonly seriesOf: (row: ContainerRow, add: (labels: Labels<T>, value: number) => void) => void,
  ) {
    super(config);
  }

  override async get(): Promise<MetricObjectWithValues<MetricValue<T>>> {
    const { name, help } = this.config;
    const values: Array<MetricValue<T>> = [];
    const add = (labels: Labels<T>, value: number) => values.push({ labels, value });
    for (const row of this.rows) this.seriesOf(row, add);
    return { name, help, type: 'gauge' as unknown as MetricType, values, aggregator: 'sum', collect: () => undefined };
  }
}

/** The labels of a container's series that name its workload (the order they are written in). */
function ownerLabels({ workload, container }: ContainerRow) {
  return { namespace: workload.namespace, owner_kind: workload.kind, owner_name: workload.name, container: container.name, image: container.image };
}

/** The per-container series of one answer. */
function containerRegistry(rows: readonly ContainerRow[]): Registry {
  const registry = new Registry();
  const registers = [registry];

  // The built-in kinds' families always (HELP and TYPE even without series); custom kinds' when listed.
  const kinds = new Set<string>(BUILTIN_KINDS);
  for (const row of rows) kinds.add(row.workload.kind);
  for (const kind of kinds) {
    const name = existsMetric(kind);
    const help = `1 if the registry serves the image of a ${kind}'s container, 0 if the registry says it does not exist. No series while that is unknown.`;
    const labelNames = ['namespace', 'owner_name', 'container', 'image'] satisfies ExistsLabel[];
    new ContainerGauge({ name, help, labelNames, registers }, rows, (row, add) => {
      if (row.workload.kind !== kind || row.exists === undefined) return;
      const { workload, container } = row;
      add({ namespace: workload.namespace, owner_name: workload.name, container: container.name, image: container.image }, row.exists);
    });
  }

  new ContainerGauge(
    {
      name: `${PREFIX}_image_check_status`,
      help: 'Latest status of the check of a container image; 1 for the current status. See the README for the statuses.',
      labelNames: ['namespace', 'owner_kind', 'owner_name', 'container', 'image', 'status'] satisfies StatusLabel[],
      registers,
    },
    rows,
    (row, add) => {
      if (row.status !== undefined) add({ ...ownerLabels(row), status: row.status }, 1);
    },
  );

  new ContainerGauge(
    {
      name: `${PREFIX}_image_platform_missing`,
      help: 'The image exists but provides nothing that nodes of this platform, where the workload may run, can pull; 1 per such platform. No series when nothing is missing or it is not known.',
      labelNames: ['namespace', 'owner_kind', 'owner_name', 'container', 'image', 'platform'] satisfies PlatformLabel[],
      registers,
    },
    rows,
    (row, add) => {
      for (const platform of row.missingPlatforms ?? []) add({ ...ownerLabels(row), platform }, 1);
    },
  );

  return registry;
}

/** A list's labels: its kind, and its namespace when the exporter is scoped to namespaces. */
function listLabels(list: ListState): Partial<Record<'kind' | 'namespace', string>> {
  return list.namespace === undefined ? { kind: list.kind } : { kind: list.kind, namespace: list.namespace };
}

/** The gauges that describe the scrape itself. */
function scrapeRegistry(snapshot: Snapshot): Registry {
  const registry = new Registry();
  const registers = [registry];

  new Gauge({
    name: `${PREFIX}_workload_list_up`,
    help: '1 if the latest list of this workload kind from the Kubernetes API succeeded, 0 if it failed or none finished yet (the last listed workloads are still reported).',
    labelNames: ['kind', 'namespace'],
    registers,
    collect() {
      for (const list of snapshot.lists) this.set(listLabels(list), list.up ? 1 : 0);
    },
  });

  new Gauge({
    name: `${PREFIX}_workload_list_age_seconds`,
    help: 'Seconds since the workload listing this scrape reported was completed. No series before the first listing.',
    labelNames: ['kind', 'namespace'],
    registers,
    collect() {
      for (const list of snapshot.lists) if (list.ageSeconds !== undefined) this.set(listLabels(list), list.ageSeconds);
    },
  });

  new Gauge({
    name: `${PREFIX}_checks_pending`,
    help: 'Image checks still running or queued when this scrape was answered.',
    registers,
    collect() {
      this.set(snapshot.pending);
    },
  });

  new Gauge({
    name: `${PREFIX}_collection_duration_seconds`,
    help: "Time this scrape spent listing workloads and waiting for image checks.",
    registers,
    collect() {
      this.set(snapshot.collectionSeconds);
    },
  });

  return registry;
}
