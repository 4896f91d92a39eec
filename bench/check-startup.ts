/**
 * Benchmark: what a `check` costs to start and run (issue 22: fast enough to run on every push). The
 * built CLI (`node dist/main.js check`) as its own process, the way a CI job runs it, against a real
 * registry on loopback that holds every image the inputs name, in Deployments as a repository holds
 * them (the tests' realistic pod template, without what the API server adds):
 *  - small: one file, one Deployment of one container;
 *  - corpus: 100 files, 1,000 containers, 200 distinct images.
 * Each on this machine's Node and on Node 24 (the Dockerfile's major, from the npm registry's `node`
 * package, as `npm run test:node24` gets it), from this checkout's dist/ ("after") and from
 * BENCH_BASE's, exported and built in a temporary directory ("before"). Before and after alternate
 * run by run so both see the same load on the machine. Prints the medians of wall time, CPU time
 * (user + system) and peak RSS — the child's own getrusage, through /usr/bin/time — and their
 * after/before ratios, and whether the goals are met. Asserts nothing. Build first: `npm run build`.
 *
 *   BENCH_BASE   the "before" commit (default b063215, the last that loaded every module at start)
 *   BENCH_RUNS   measured runs of each (default 7), after one unmeasured warm-up run of each
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { realisticDeployment } from '../test/support/objects.js';
import { pushImage } from '../test/support/push.js';
import { startRegistry } from '../test/support/registry.js';
import { makeTempDir } from '../test/support/tmp.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BASE = process.env.BENCH_BASE ?? 'b063215';
const RUNS = Number(process.env.BENCH_RUNS ?? 7);

const FILES = 100;
const CONTAINERS = 1000;
const IMAGES = 200;
/** The goals of issue 22, for the after build on Node 24. */
const GOALS = { smallSeconds: 0.5, smallRssMb: 100, corpusSeconds: 2 };

interface Measure {
  readonly wall: number;
  readonly cpu: number;
  readonly rssMb: number;
}

/** One `check` as its own process; exit code 0 (all present) or it says why not. */
async function runOnce(node: string, root: string, args: readonly string[], env: NodeJS.ProcessEnv, out: string): Promise<Measure> {
  const started = process.hrtime.bigint();
  // /usr/bin/time reports the child's rusage when it is reaped: exact peak RSS and CPU, however short the run.
  const child = spawn('/usr/bin/time', ['-o', out, '-f', '%M %U %S', node, join(root, 'dist', 'main.js'), 'check', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env,
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`${node} ${root}: check exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const [rssKb, user, system] = (await readFile(out, 'utf8')).trim().split('\n').at(-1)!.split(' ').map(Number) as [number, number, number];
  return { wall, cpu: user + system, rssMb: rssKb / 1024 };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** BENCH_BASE's sources, built with this checkout's TypeScript and node_modules. */
async function buildBase(dir: string): Promise<string> {
  const root = join(dir, 'base');
  await mkdir(root);
  const tar = execFileSync('git', ['-C', ROOT, 'archive', '--format=tar', BASE], { maxBuffer: 256 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', root], { input: tar });
  await symlink(realpathSync(join(ROOT, 'node_modules')), join(root, 'node_modules'));
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  return root;
}

/** This Node, and Node 24 from the npm registry unless this is Node 24. */
function nodes(): string[] {
  const found = [process.execPath];
  if (process.versions.node.split('.')[0] !== '24') {
    found.push(execFileSync('npx', ['--yes', 'node@24', '-p', 'process.execPath'], { encoding: 'utf8' }).trim());
  }
  return found;
}

/**
 * A Deployment as a repository holds it (what `helm template` or `kustomize build` prints): the
 * realistic pod template of the tests, without what the API server adds (status, managedFields,
 * uid, the last-applied annotation).
 */
function authoredDeployment(namespace: string, name: string, containers: readonly { name: string; image: string }[]): object {
  const { metadata, spec } = realisticDeployment(namespace, name, { containers: [...containers] });
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: metadata.name, namespace: metadata.namespace, labels: metadata.labels }, spec };
}

/** Written without anchors (the objects share their labels), as those tools write YAML. */
const toYaml = (value: object) => stringify(value, { aliasDuplicateObjects: false });

/** 100 files of Deployments with two containers each: 1,000 containers naming 200 distinct images. */
async function writeCorpus(dir: string, images: readonly string[]): Promise<string> {
  const corpus = join(dir, 'corpus');
  await mkdir(corpus);
  const perFile = CONTAINERS / FILES / 2;
  let container = 0;
  for (let f = 0; f < FILES; f++) {
    const documents = Array.from({ length: perFile }, (_, d) => {
      const containers = ['app', 'sidecar'].map((name) => ({ name, image: images[container++ % images.length]! }));
      return toYaml(authoredDeployment(`team-${f % 10}`, `app-${f}-${d}`, containers));
    });
    await writeFile(join(corpus, `service-${f}.yaml`), documents.join('---\n'));
  }
  return corpus;
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'dist', 'main.js'))) throw new Error('no dist/main.js: run `npm run build` first');
  const dir = await makeTempDir('bench-startup');
  const registry = await startRegistry();
  try {
    console.log(`check start-up benchmark: building ${BASE} for "before"…`);
    const base = await buildBase(dir);
    const builds = [
      ['before', base],
      ['after', ROOT],
    ] as const;
    const runtimes = nodes().map((path) => ({ path, version: execFileSync(path, ['--version'], { encoding: 'utf8' }).trim() }));

    // 200 distinct images in 20 repositories, pushed a few at a time.
    const images: string[] = [];
    for (let i = 0; i < IMAGES; i += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, IMAGES - i) }, async (_, j) => {
          const n = i + j;
          await pushImage(registry, `bench/app-${n % 20}`, `v${n}`, 'docker');
          images[n] = `${registry.host}/bench/app-${n % 20}:v${n}`;
        }),
      );
    }
    const small = join(dir, 'small.yaml');
    await writeFile(small, toYaml(authoredDeployment('shop', 'web', [{ name: 'app', image: images[0]! }])));
    const corpus = await writeCorpus(dir, images);
    const inputs = [
      ['small: 1 container', small],
      [`corpus: ${FILES} files, ${CONTAINERS} containers, ${IMAGES} images`, corpus],
    ] as const;

    // No credentials of this machine's user: a CI job's clean HOME. Defaults otherwise (--cloud-credentials=auto).
    const home = join(dir, 'home');
    await mkdir(home);
    const env = { ...process.env, HOME: home, DOCKER_CONFIG: join(home, '.docker') };
    const args = (input: string) => [`--allow-plain-http=${registry.host}`, input];
    const out = join(dir, 'time.txt');

    const load = loadavg()[0]!;
    const results = new Map<string, Measure[]>();
    const key = (node: string, build: string, input: string) => `${node}|${build}|${input}`;
    for (let run = -1; run < RUNS; run++) {
      for (const { path } of runtimes) {
        for (const [, input] of inputs) {
          // Alternate which goes first, so neither always follows the other.
          const order = run % 2 === 0 ? builds : [...builds].reverse();
          for (const [build, root] of order) {
            const measure = await runOnce(path, root, args(input), env, out);
            if (run >= 0) results.set(key(path, build, input), [...(results.get(key(path, build, input)) ?? []), measure]);
          }
        }
      }
    }

    const cores = availableParallelism();
    console.log(`${RUNS} runs of each (medians), ${cores} cores, load average ${load.toFixed(1)} at the start and ${loadavg()[0]!.toFixed(1)} at the end`);
    const medians = (node: string, build: string, input: string) => {
      const measures = results.get(key(node, build, input))!;
      return { wall: median(measures.map((m) => m.wall)), cpu: median(measures.map((m) => m.cpu)), rssMb: median(measures.map((m) => m.rssMb)) };
    };
    const show = (m: Measure) => `${m.wall.toFixed(2)} s wall, ${m.cpu.toFixed(2)} s CPU, ${m.rssMb.toFixed(0)} MB peak RSS`;
    for (const { path, version } of runtimes) {
      console.log(`Node ${version}`);
      for (const [label, input] of inputs) {
        const before = medians(path, 'before', input);
        const after = medians(path, 'after', input);
        console.log(`  ${label}`);
        console.log(`    before (${BASE}): ${show(before)}`);
        console.log(`    after:            ${show(after)}`);
        console.log(`    after/before:     ${(after.wall / before.wall).toFixed(2)}× wall, ${(after.cpu / before.cpu).toFixed(2)}× CPU, ${(after.rssMb / before.rssMb).toFixed(2)}× peak RSS`);
      }
    }
    const node24 = runtimes.find((r) => r.version.startsWith('v24.'));
    if (node24) {
      const smallAfter = medians(node24.path, 'after', small);
      const corpusAfter = medians(node24.path, 'after', corpus);
      const verdict = (value: number, goal: number, unit: string) => `${value.toFixed(unit === 'MB' ? 0 : 2)} ${unit} (goal ≤ ${goal} ${unit}: ${value <= goal ? 'met' : 'NOT met'})`;
      console.log(`Goals on Node ${node24.version}, after:`);
      console.log(`  small: ${verdict(smallAfter.wall, GOALS.smallSeconds, 's')} wall, ${verdict(smallAfter.rssMb, GOALS.smallRssMb, 'MB')} peak RSS`);
      console.log(`  corpus: ${verdict(corpusAfter.wall, GOALS.corpusSeconds, 's')} wall`);
    }
  } finally {
    await registry.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
