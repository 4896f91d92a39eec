/**
 * Metric definitions. The per-container series of one answer are written straight from its rows,
 * in slices (see containerText), and their text is reused while they do not change; the gauges
 * about the scrape itself live in a registry made for the answer (as blackbox_exporter makes one
 * per probe) and read its snapshot in their collect() callbacks. Process-wide counters and default
 * metrics live in one long-lived registry, rendered last.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AdmissionObserver } from './admission/admission.js';
import type { ContainerRow, SkipReason, Snapshot } from '../engine/collector.js';
import type { ListState } from '../engine/listings.js';
import type { AnswerBody } from './shared-answer.js';
import { BUILTIN_KINDS } from '../kubernetes/workloads.js';
import { VERSION } from '../utils/version.js';
import { ChunkedText } from '../utils/chunked-text.js';
import { yieldToEventLoop } from '../utils/yield.js';

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
  private containerText: { readonly rows: readonly ContainerRow[]; readonly text: readonly Buffer[] } | undefined;

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

  /**
   * The admission webhook's families (only with --admission-webhook): reviews by kind and outcome,
   * warnings by kind and status, refusals by kind, and how long reviews took. Label values are
   * bounded: kinds are the built-in ones, those of --workload-resource, `other` or '' (a request
   * not read as a review); statuses and outcomes are fixed sets.
   */
  admissionObserver(): AdmissionObserver {
    const registers = [this.processRegistry];
    const reviews = new Counter({
      name: `${PREFIX}_admission_reviews_total`,
      help: 'Admission reviews answered, by kind and outcome: allowed (every new image present), warned, denied (--admission-deny-absent), skipped (nothing new to check), refused (not answered as a review: bad request, too large, too many at once, no TLS or client certificate).',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    const warnings = new Counter({
      name: `${PREFIX}_admission_warnings_total`,
      help: 'Containers an admission review warned about, by kind and status (a check status, or not_checked_in_time, not_checked_too_many).',
      labelNames: ['kind', 'status'],
      registers,
    });
    const denials = new Counter({
      name: `${PREFIX}_admission_denials_total`,
      help: 'Admission reviews refused because an image is absent (--admission-deny-absent), by kind.',
      labelNames: ['kind'],
      registers,
    });
    const duration = new Histogram({
      name: `${PREFIX}_admission_review_duration_seconds`,
      help: 'Time from an admission request to its answer.',
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 7.5, 10],
      registers,
    });
    return {
      review(kind, outcome, seconds) {
        reviews.inc({ kind, outcome });
        if (outcome === 'denied') denials.inc({ kind });
        duration.observe(seconds);
      },
      warning(kind, status) {
        warnings.inc({ kind, status });
      },
    };
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
      containers = { rows, text: await containerText(rows) };
      this.containerText = containers;
    }
    const rest = (await scrapeRegistry(snapshot).metrics()) + (await this.processRegistry.metrics());
    return [...containers.text, Buffer.from(rest)];
  }
}

/** Rows that render the same series: the same container objects (so the same labels), statuses and values. */
function sameRows(a: readonly ContainerRow[], b: readonly ContainerRow[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as ContainerRow;
    const y = b[i] as ContainerRow;
    if (x.container !== y.container || x.status !== y.status || x.exists !== y.exists || x.missingPlatforms !== y.missingPlatforms || x.skipped !== y.skipped) return false;
  }
  return true;
}

/** One family of per-container series: `linesOf` writes a row's series (none, one or several), each starting with a newline. */
interface ContainerFamily {
  readonly name: string;
  readonly help: string;
  readonly rows: readonly ContainerRow[];
  readonly linesOf: (row: ContainerRow) => string;
}

/**
 * The per-container series, written straight from the rows in the text format prom-client writes
 * (families apart by a blank line, label values escaped alike) into ChunkedText, with a turn of the
 * event loop every ITEMS_PER_SLICE rows (src/utils/yield.ts): at 100,000s of series one pass would
 * hold the event loop for long. No `set()` per series either, so no label hashing and no second
 * map of 10,000s of entries per answer.
 */
async function containerText(rows: readonly ContainerRow[]): Promise<Buffer[]> {
  const out = new ChunkedText();
  for (const [index, family] of containerFamilies(rows).entries()) {
    const { name, linesOf } = family;
    out.write(`${index === 0 ? '' : '\n\n'}# HELP ${name} ${escapeHelp(family.help)}\n# TYPE ${name} gauge`);
    for (const row of family.rows) {
      out.write(linesOf(row));
      if (out.item()) await yieldToEventLoop();
    }
  }
  out.write('\n');
  return out.end();
}

function containerFamilies(rows: readonly ContainerRow[]): ContainerFamily[] {
  // The built-in kinds' families always (HELP and TYPE even without series); custom kinds' when listed.
  const byKind = new Map<string, ContainerRow[]>(BUILTIN_KINDS.map((kind) => [kind, []]));
  // Image volumes have families of their own: the container families' series stay what they were.
  const containerRows: ContainerRow[] = [];
  const volumeRows: ContainerRow[] = [];
  for (const row of rows) {
    if (row.container.volume) {
      volumeRows.push(row);
      continue;
    }
    containerRows.push(row);
    let ofKind = byKind.get(row.workload.kind);
    if (!ofKind) byKind.set(row.workload.kind, (ofKind = []));
    if (row.exists !== undefined) ofKind.push(row);
  }
  const families: ContainerFamily[] = [...byKind].map(([kind, ofKind]) => {
    const name = existsMetric(kind);
    return {
      name,
      help: `1 if the registry serves the image of a ${kind}'s container, 0 if the registry says it does not exist. No series while that is unknown.`,
      rows: ofKind,
      linesOf: ({ workload, container, exists }) =>
        `\n${name}{namespace="${escapeLabel(workload.namespace)}",owner_name="${escapeLabel(workload.name)}",container="${escapeLabel(container.name)}",image="${escapeLabel(container.image)}"} ${exists}`,
    };
  });

  families.push(
    statusFamily(`${PREFIX}_image_check_status`, 'Latest status of the check of a container image; 1 for the current status. See the README for the statuses.', containerRows, ownerLabels),
    platformFamily(
      `${PREFIX}_image_platform_missing`,
      'The image exists but provides nothing that nodes of this platform, where the workload may run, can pull; 1 per such platform. No series when nothing is missing or it is not known.',
      containerRows,
      ownerLabels,
    ),
    skippedFamily(
      `${PREFIX}_image_skipped`,
      'A container whose image is not checked on purpose: reason "ignored_images" (the image matches --ignored-images) or "annotation" (its workload opts it out with k8s-image-existence-exporter/ignore). 1 per such container.',
      containerRows,
      ownerLabels,
    ),
  );

  const volumeExists = `${PREFIX}_image_volume_exists`;
  families.push(
    {
      name: volumeExists,
      help: "1 if the registry serves the image or artifact of a workload's image volume (spec.volumes[].image), 0 if the registry says it does not exist. No series while that is unknown.",
      rows: volumeRows,
      linesOf: (row) => (row.exists === undefined ? '' : `\n${volumeExists}{${volumeLabels(row)}} ${row.exists}`),
    },
    statusFamily(`${PREFIX}_image_volume_check_status`, 'Latest status of the check of an image volume; 1 for the current status. The statuses are those of image_check_status.', volumeRows, volumeLabels),
    platformFamily(
      `${PREFIX}_image_volume_platform_missing`,
      "The image volume's index exists but lists nothing that nodes of this platform, where the workload may run, can pull (a single manifest is pulled on any node); 1 per such platform. No series when nothing is missing or it is not known.",
      volumeRows,
      volumeLabels,
    ),
    skippedFamily(
      `${PREFIX}_image_volume_skipped`,
      'An image volume not checked on purpose: reason "ignored_images" (its image matches --ignored-images) or "annotation" (its workload opts out with k8s-image-existence-exporter/ignore: "true"). 1 per such volume.',
      volumeRows,
      volumeLabels,
    ),
  );
  return families;
}

/** Labels naming a row's container (ownerLabels) or image volume (volumeLabels). */
type RowLabels = (row: ContainerRow) => string;

/** The latest check status of each row, 1 for the current one: containers' and image volumes' alike. */
function statusFamily(name: string, help: string, rows: readonly ContainerRow[], labels: RowLabels): ContainerFamily {
  return { name, help, rows, linesOf: (row) => (row.status === undefined ? '' : `\n${name}{${labels(row)},status="${escapeLabel(row.status)}"} 1`) };
}

/** One series per platform a row's image lacks. */
function platformFamily(name: string, help: string, rows: readonly ContainerRow[], labels: RowLabels): ContainerFamily {
  return {
    name,
    help,
    rows,
    linesOf: (row) => {
      if (!row.missingPlatforms?.length) return '';
      const own = labels(row);
      return row.missingPlatforms.map((p) => `\n${name}{${own},platform="${escapeLabel(p)}"} 1`).join('');
    },
  };
}

/** One series per row not checked on purpose, with why. */
function skippedFamily(name: string, help: string, rows: readonly ContainerRow[], labels: RowLabels): ContainerFamily {
  return { name, help, rows, linesOf: (row) => (row.skipped === undefined ? '' : `\n${name}{${labels(row)},reason="${SKIP_LABELS[row.skipped]}"} 1`) };
}

/** The labels of an image volume's series: its workload, the volume's name and its reference. */
function volumeLabels({ workload, container }: ContainerRow): string {
  return `namespace="${escapeLabel(workload.namespace)}",owner_kind="${escapeLabel(workload.kind)}",owner_name="${escapeLabel(workload.name)}",volume="${escapeLabel(container.name)}",image="${escapeLabel(container.image)}"`;
}

/** The `reason` label of a skipped container: a label value in the metric's own style. */
const SKIP_LABELS: Readonly<Record<SkipReason, string>> = { 'ignored-images': 'ignored_images', annotation: 'annotation' };

/** The labels of a container's series that name its workload (in the order they are written). */
function ownerLabels({ workload, container }: ContainerRow): string {
  return `namespace="${escapeLabel(workload.namespace)}",owner_kind="${escapeLabel(workload.kind)}",owner_name="${escapeLabel(workload.name)}",container="${escapeLabel(container.name)}",image="${escapeLabel(container.image)}"`;
}

/** A label value as the text format wants it (and prom-client writes it): backslash, newline and quote escaped. */
function escapeLabel(value: string): string {
  return /[\\\n"]/.test(value) ? escapeHelp(value).replace(/"/g, '\\"') : value;
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
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
