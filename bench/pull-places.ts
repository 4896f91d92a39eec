/**
 * Benchmark: what saying where nodes pull from costs a scrape. The engine's collector, in this
 * process, over 10,000 Deployments (2 containers each, 1,000 unique images) on a real loopback
 * registry, every image present; a warm scrape is one whose every image has a result (the common
 * case: one scrape per check interval is not). Variants, each a fresh engine:
 *
 *   none       no mirror flag, no node file (what every user without them runs)
 *   flags      --image-mirror for another registry (rules matched, nothing moved)
 *   hosts-dir  --containerd-hosts-dir of 100 hosts, one of them the images' registry (its server)
 *   regs-conf  --registries-conf of 100 [[registry]] entries, one of them the images' registry
 *
 * With BENCH_BASELINE_SRC=<a checkout of an older commit> the `none` variant also runs on that
 * commit's sources, in the same process and run: the ratio says whether the change costs anything
 * when neither file is used. Warm scrapes go round-robin over the variants, so each meets the same
 * machine. Prints figures; asserts nothing.
 *
 *   BENCH_WORKLOADS (10000)  BENCH_IMAGES (1000)  BENCH_WARM_SCRAPES (15)  BENCH_VARIANTS (names, ;-separated)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pushImage } from '../test/support/push.js';
import { realisticDeployment } from '../test/support/objects.js';
import { startRegistry } from '../test/support/registry.js';
import { makeTempDir } from '../test/support/tmp.js';

const WORKLOADS = Number(process.env.BENCH_WORKLOADS ?? 10_000);
const IMAGES = Number(process.env.BENCH_IMAGES ?? 1_000);
const WARM = Number(process.env.BENCH_WARM_SCRAPES ?? 15);
const HERE = resolve(fileURLToPath(new URL('..', import.meta.url)));

type Variant = { name: string; src: string; flags: string[] };

/** A variant's engine and collector, and its first (cold) scrape. */
async function prepare(variant: Variant, objects: ReturnType<typeof realisticDeployment>[]) {
  const { parseFlags } = await import(join(variant.src, 'src/flags/config.js'));
  const { createEngine, startUp } = await import(join(variant.src, 'src/engine/engine.js'));
  const { toWorkload } = await import(join(variant.src, 'src/kubernetes/workloads.js'));
  const { createLogger } = await import(join(variant.src, 'src/utils/log.js'));
  const parsed = parseFlags(['--allow-plain-http=127.0.0.1:*', '--cloud-credentials=none', ...variant.flags]);
  const logger = createLogger('error', () => undefined);
  const started = await startUp(parsed.config, { logger });
  const engine = createEngine(parsed.config, { checkIntervalMs: 3_600_000, checkPlatforms: false }, { logger, nodePullConfig: started.nodePullConfig });
  const workloads = objects.map((o) => toWorkload('Deployment', o, o.spec.template.spec));
  const collector = engine.collector({ listings: { get: async (kind: string) => ({ workloads: kind === 'Deployment' ? workloads : [], states: [] }) }, onRecheckRound: () => undefined });
  const start = performance.now();
  const cold = await collector.collect(Date.now() + 600_000);
  const coldMs = performance.now() - start;
  const present = cold.rows.filter((r: { status?: string }) => r.status === 'present').length;
  return { variant, engine, collector, coldMs, present, rows: cold.rows.length, warm: [] as number[], cpu: [] as number[] };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const registry = await startRegistry();
  const images: string[] = [];
  for (let i = 0; i < IMAGES; i++) {
    await pushImage(registry, `team/app-${i}`, '1', 'oci');
    images.push(`${registry.host}/team/app-${i}:1`);
  }
  const objects = Array.from({ length: WORKLOADS }, (_, i) =>
    realisticDeployment(`ns-${i % 50}`, `app-${i}`, { containers: [{ name: 'app', image: images[i % IMAGES] as string }, { name: 'sidecar', image: images[(i * 7 + 1) % IMAGES] as string }] }, i),
  );

  const dir = await makeTempDir('bench-pull');
  const hosts = join(dir, 'certs.d');
  for (let i = 0; i < 99; i++) {
    await mkdir(join(hosts, `registry-${i}.example.com`), { recursive: true });
    await writeFile(join(hosts, `registry-${i}.example.com`, 'hosts.toml'), `server = "https://registry-${i}.example.com"\n[host."https://mirror-${i}.example.com"]\n  capabilities = ["pull", "resolve"]\n`);
  }
  await mkdir(join(hosts, registry.host), { recursive: true });
  await writeFile(join(hosts, registry.host, 'hosts.toml'), `server = "http://${registry.host}"\n`);
  const conf = join(dir, 'registries.conf');
  const entries = Array.from({ length: 99 }, (_, i) => `[[registry]]\nprefix = "registry-${i}.example.com"\nlocation = "registry-${i}.example.com"\n[[registry.mirror]]\nlocation = "mirror-${i}.example.com"\n`);
  entries.push(`[[registry]]\nprefix = "${registry.host}"\nlocation = "${registry.host}"\ninsecure = true\n`);
  await writeFile(conf, entries.join('\n'));

  const baseline = process.env.BENCH_BASELINE_SRC;
  const only = process.env.BENCH_VARIANTS?.split(';');
  const all: Variant[] = [
    ...(baseline ? [{ name: 'none (baseline)', src: resolve(baseline), flags: [] }] : []),
    { name: 'none', src: HERE, flags: [] },
    { name: 'flags', src: HERE, flags: ['--image-mirror=docker.io=mirror.example.com/hub'] },
    { name: 'hosts-dir', src: HERE, flags: [`--containerd-hosts-dir=${hosts}`] },
    { name: 'regs-conf', src: HERE, flags: [`--registries-conf=${conf}`] },
  ];
  const variants = only ? all.filter((v) => only.includes(v.name)) : all;
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load ${loadavg()[0]?.toFixed(1)}`);
  console.log(`${WORKLOADS} Deployments (~11 KB each as listed), ${WORKLOADS * 2} containers, ${IMAGES} images on a loopback registry; ${WARM} warm scrapes each`);
  // Cold scrapes one variant after the other; then warm scrapes round-robin, so that every variant
  // meets the same machine (load, heap, JIT) at the same times.
  const prepared = [];
  for (const variant of variants) prepared.push(await prepare(variant, objects));
  for (let round = 0; round < WARM; round++) {
    for (const p of prepared) {
      const before = process.cpuUsage();
      const start = performance.now();
      await p.collector.collect(Date.now() + 600_000);
      p.warm.push(performance.now() - start);
      const used = process.cpuUsage(before);
      p.cpu.push((used.user + used.system) / 1000);
    }
  }
  const none = prepared.find((p) => p.variant.name === 'none');
  for (const p of prepared) {
    console.log(`${p.variant.name.padEnd(24)} cold ${p.coldMs.toFixed(0).padStart(6)} ms   warm median ${median(p.warm).toFixed(1).padStart(7)} ms (CPU ${median(p.cpu).toFixed(1)} ms)   ${p.present}/${p.rows} present`);
  }
  if (none) {
    for (const p of prepared) if (p !== none) console.log(`  warm ${p.variant.name} / none: ${(median(p.warm) / median(none.warm)).toFixed(2)}`);
  }
  for (const p of prepared) await p.engine.transport.destroy();
  await registry.stop();
}

await main();
