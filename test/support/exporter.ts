/**
 * Starts the real exporter in-process (the same createExporter main.ts uses) against a loopback
 * Kubernetes API, and scrapes it over HTTP like Prometheus does.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { createExporter, type Exporter, type ExporterDeps } from '../../src/exporter/app.js';
import { parseFlags, type Config } from '../../src/flags/config.js';
import { createLogger } from '../../src/utils/log.js';
import { startUp } from '../../src/engine/engine.js';
import { REUSE_MS } from '../../src/exporter/shared-answer.js';

export interface RunningExporter {
  readonly exporter: Exporter;
  readonly url: string;
  /** Every log line the exporter wrote. */
  readonly logs: string[];
  scrape(options?: { timeoutSeconds?: number }): Promise<Scrape>;
  /**
   * A scrape that reflects the cluster and registries as of this call. A scrape answers from what
   * the exporter already knows and starts refreshing what is stale; this one scrapes until the
   * workload listings completed after the call and no check is pending any more.
   */
  scrapeFresh(options?: { timeoutSeconds?: number }): Promise<Scrape>;
  /** Scrapes until `until` holds (what a background refresh leads to), for at most `withinMs`. */
  scrapeUntil(until: (scrape: Scrape) => boolean, options?: { timeoutSeconds?: number; withinMs?: number }): Promise<Scrape>;
  stop(): Promise<void>;
}

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Scrape {
  readonly status: number;
  readonly text: string;
  readonly samples: readonly Sample[];
  readonly ms: number;
  /** Samples of one metric whose labels include `labels`. */
  find(name: string, labels?: Record<string, string>): Sample[];
  /** The single value of a metric with these labels, or undefined when there is no such series. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

export const PREFIX = 'k8s_image_existence_exporter';

/** Minimal parser for the Prometheus text format (enough for what the exporter writes). */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (!match) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const body = match[2] ?? '';
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
    let m: RegExpExecArray | null;
    while ((m = labelRe.exec(body))) {
      labels[m[1] as string] = (m[2] as string).replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

function matches(sample: Sample, labels: Record<string, string>): boolean {
  return Object.entries(labels).every(([k, v]) => sample.labels[k] === v);
}

export async function scrapeUrl(url: string, options: { timeoutSeconds?: number } = {}): Promise<Scrape> {
  const headers: Record<string, string> = {};
  if (options.timeoutSeconds !== undefined) headers['X-Prometheus-Scrape-Timeout-Seconds'] = String(options.timeoutSeconds);
  const started = performance.now();
  const response = await fetch(`${url}/metrics`, { headers });
  const text = await response.text();
  const ms = performance.now() - started;
  const samples = response.status === 200 ? parseExposition(text) : [];
  const find = (name: string, labels: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && matches(s, labels));
  return {
    status: response.status,
    text,
    samples,
    ms,
    find,
    value(name, labels) {
      const found = find(name, labels);
      if (found.length > 1) throw new Error(`${found.length} series of ${name} match ${JSON.stringify(labels)}`);
      return found[0]?.value;
    },
  };
}

async function scrapeFresh(url: string, options: { timeoutSeconds?: number } = {}): Promise<Scrape> {
  const since = performance.now();
  for (let attempt = 0; ; attempt++) {
    // Each attempt a new answer, not the one the exporter hands out for REUSE_MS after making it.
    await new Promise((resolve) => setTimeout(resolve, REUSE_MS + 10));
    const scrape = await scrapeUrl(url, options);
    const elapsedSeconds = (performance.now() - since) / 1000;
    const ages = scrape.find(`${PREFIX}_workload_list_age_seconds`).map((s) => s.value);
    const listedSince = ages.length > 0 && ages.every((age) => age < elapsedSeconds);
    const settled = scrape.value(`${PREFIX}_checks_pending`) === 0;
    if ((attempt > 0 && listedSince && settled) || scrape.status !== 200) return scrape;
    if (attempt > 100) throw new Error('the exporter did not settle within 100 scrapes');
  }
}

export async function startExporter(
  kubeconfigPath: string,
  flags: string[] = [],
  deps: Partial<Omit<ExporterDeps, 'kubeConfig' | 'logger'>> = {},
): Promise<RunningExporter> {
  // Listings refreshed on every scrape (in the background of it), unless a test says otherwise.
  const defaults = flags.some((f) => f.startsWith('--list-max-age')) ? [] : ['--list-max-age=1ms'];
  const outcome = parseFlags(['--bind-address=127.0.0.1:0', '--log-level=debug', ...defaults, ...flags]);
  if (outcome.action !== 'run') throw new Error('flags did not produce a config');
  const config: Config = outcome.config;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  const logs: string[] = [];
  const logger = createLogger('debug', (line) => logs.push(line));
  // As main.ts does: the flags' files read, plugins and cloud providers started (unless a test brings its own).
  const { registryCaPems, providers } = await startUp(config, { logger });
  const exporter = createExporter(config, { kubeConfig, logger, registryCaPems, providers, ...deps });
  const port = await exporter.listen();
  const url = `http://127.0.0.1:${port}`;
  return {
    exporter,
    url,
    logs,
    scrape: (options) => scrapeUrl(url, options),
    scrapeFresh: (options) => scrapeFresh(url, options),
    async scrapeUntil(until, options = {}) {
      const end = performance.now() + (options.withinMs ?? 5000);
      for (;;) {
        const scrape = await scrapeUrl(url, options);
        if (until(scrape)) return scrape;
        if (performance.now() > end) throw new Error(`condition not reached; last scrape:\n${scrape.text.slice(0, 4000)}`);
        await new Promise((resolve) => setTimeout(resolve, REUSE_MS + 10));
      }
    },
    stop: async () => {
      await exporter.close();
    },
  };
}
