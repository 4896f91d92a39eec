/**
 * `--containerd-hosts-dir` against the real containerd as the oracle: for each hosts directory, what
 * `ctr images pull --hosts-dir DIR` (containerd 1.6's own reader of hosts.toml) does with each image
 * is recorded, and `check --containerd-hosts-dir DIR` must agree: present exactly when ctr pulls it;
 * absent only when the place with the last word said 404; otherwise a could-not-check status.
 * One containerd daemon and one set of loopback registries serve every case.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { checkHere as runHere } from '../support/check-here.js';
import { loadContainerdHosts } from '../../src/node-config/containerd-hosts-load.js';
import { parseImageReference } from '../../src/image/reference.js';
import { containerdMissing, startContainerd, type Containerd } from '../support/containerd.js';
import { listenLoopback } from '../support/listen.js';
import { createPki, type Pki } from '../support/pki.js';
import { ended } from '../support/process.js';
import { pushImage, pushManifestByDigestOnly } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { makeTempDir } from '../support/tmp.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const missing = containerdMissing();
// The engine half needs the lead's wiring of the flag; until it is on this branch only ctr is asked.
const flagWired = (await readFile(join(ROOT, 'src/flags/table.ts'), 'utf8')).includes('containerd-hosts-dir');

let containerd: Containerd;
let pki: Pki;
let origin: RunningRegistry; // TLS (test CA): the registry images are named by
let mirror: RunningRegistry; // TLS (test CA)
let empty: RunningRegistry; // TLS, holds nothing: a mirror answering 404
let plain: RunningRegistry; // plain HTTP
let cache: RunningRegistry; // plain HTTP, a pull-through cache of `plain`
let limiter: Server; // answers 429 to everything
let limiterHost: string;
let downHost: string; // nothing listens there
let work: string;
let mirrorDigest: string;

/** What an image is expected to be: pulled by ctr or not, and the status check must give. */
interface Expectation {
  readonly image: string; // as a pod spec writes it
  readonly ctrRef?: string; // fully qualified, when ctr needs it written out (docker.io short names)
  readonly pulled: boolean;
  readonly status: 'present' | 'absent' | 'blocked' | 'could-not-check';
}

interface Case {
  readonly name: string;
  /** Directory name → hosts.toml text (undefined: an empty directory); CA copied in as ca.crt. */
  readonly dirs: () => Record<string, string | undefined>;
  readonly images: () => readonly Expectation[];
  /** Where a plan for the first image sends the check, in order (the last has the last word). */
  readonly places: () => readonly string[];
}

const ca = () => `ca = ${JSON.stringify(pki.caCertFile)}`;
const dirOf = (host: string) => host.replace(/:(\d+)$/, '_$1_');

const CASES: readonly Case[] = [
  {
    name: 'mirror first, then the server',
    places: () => [`https://${mirror.host}/v2`, `https://${origin.host}/v2`],
    dirs: () => ({ [dirOf(origin.host)]: `server = "https://${origin.host}"\n${ca()}\n[host."https://${mirror.host}"]\n  capabilities = ["pull", "resolve"]\n  ${ca()}\n` }),
    images: () => [
      { image: `${origin.host}/app/both:v1`, pulled: true, status: 'present' },
      { image: `${origin.host}/app/origin:v1`, pulled: true, status: 'present' },
      { image: `${origin.host}/app/mirror:v1`, pulled: true, status: 'present' },
      { image: `${origin.host}/app/gone:v1`, pulled: false, status: 'absent' },
    ],
  },
  {
    name: 'mirror only: the server may only push',
    places: () => [`https://${mirror.host}/v2`],
    dirs: () => ({ [dirOf(origin.host)]: `server = "https://${origin.host}"\ncapabilities = ["push"]\n${ca()}\n[host."https://${mirror.host}"]\n  ${ca()}\n` }),
    images: () => [
      { image: `${origin.host}/app/mirror:v1`, pulled: true, status: 'present' },
      // The mirror has the last word here: its 404 is final.
      { image: `${origin.host}/app/origin:v1`, pulled: false, status: 'absent' },
    ],
  },
  {
    // containerd 1.6/1.7 still use the registry itself when `server` is left out (a loopback one
    // over plain HTTP): the original stays the last word.
    name: 'no server: the registry itself stays last',
    places: () => [`https://${mirror.host}/v2`, `http://${plain.host}/v2`],
    dirs: () => ({ [dirOf(plain.host)]: `[host."https://${mirror.host}"]\n  ${ca()}\n` }),
    images: () => [
      { image: `${plain.host}/app/plain:v1`, pulled: true, status: 'present' },
      { image: `${plain.host}/app/mirror:v1`, pulled: true, status: 'present' },
      { image: `${plain.host}/app/gone:v1`, pulled: false, status: 'absent' },
    ],
  },
  {
    name: 'a hosts.toml without [host] tables is ignored (containerd 1.6/1.7)',
    places: () => [`http://${plain.host}/v2`],
    dirs: () => ({ [dirOf(plain.host)]: `server = "https://${mirror.host}"\n${ca()}\n` }),
    images: () => [
      { image: `${plain.host}/app/plain:v1`, pulled: true, status: 'present' },
      { image: `${plain.host}/app/mirror:v1`, pulled: false, status: 'absent' },
    ],
  },
  {
    name: 'mirror down, then the server',
    places: () => [`https://${downHost}/v2`, `https://${origin.host}/v2`],
    dirs: () => ({ [dirOf(origin.host)]: `server = "https://${origin.host}"\n${ca()}\n[host."https://${downHost}"]\n  ${ca()}\n` }),
    images: () => [
      { image: `${origin.host}/app/origin:v1`, pulled: true, status: 'present' },
      { image: `${origin.host}/app/gone:v1`, pulled: false, status: 'absent' },
    ],
  },
  {
    name: 'mirror down and the only place',
    places: () => [`https://${downHost}/v2`],
    dirs: () => ({ [dirOf(origin.host)]: `server = "https://${origin.host}"\ncapabilities = ["push"]\n${ca()}\n[host."https://${downHost}"]\n  ${ca()}\n` }),
    images: () => [{ image: `${origin.host}/app/origin:v1`, pulled: false, status: 'could-not-check' }],
  },
  {
    name: 'mirror answering 404, then the server',
    places: () => [`https://${empty.host}/v2`, `https://${origin.host}/v2`],
    dirs: () => ({ [dirOf(origin.host)]: `server = "https://${origin.host}"\n${ca()}\n[host."https://${empty.host}"]\n  ${ca()}\n` }),
    images: () => [
      { image: `${origin.host}/app/origin:v1`, pulled: true, status: 'present' },
      { image: `${origin.host}/app/gone:v1`, pulled: false, status: 'absent' },
    ],
  },
  {
    name: 'mirror answering 429, then the server',
    places: () => [`http://${limiterHost}/v2`, `https://${origin.host}/v2`],
    dirs: () => ({ [dirOf(origin.host)]: `server = "https://${origin.host}"\n${ca()}\n[host."http://${limiterHost}"]\n` }),
    images: () => [
      { image: `${origin.host}/app/origin:v1`, pulled: true, status: 'present' },
      { image: `${origin.host}/app/gone:v1`, pulled: false, status: 'absent' },
    ],
  },
  {
    name: 'mirror answering 429 and the only place',
    places: () => [`http://${limiterHost}/v2`],
    dirs: () => ({ [dirOf(origin.host)]: `server = "https://${origin.host}"\ncapabilities = ["push"]\n${ca()}\n[host."http://${limiterHost}"]\n` }),
    images: () => [{ image: `${origin.host}/app/origin:v1`, pulled: false, status: 'could-not-check' }],
  },
  {
    name: 'override_path: the API root as written',
    places: () => [`https://${mirror.host}/v2`],
    dirs: () => ({ [dirOf(origin.host)]: `server = "https://${origin.host}"\ncapabilities = ["push"]\n${ca()}\n[host."https://${mirror.host}/v2"]\n  override_path = true\n  ${ca()}\n` }),
    images: () => [{ image: `${origin.host}/app/mirror:v1`, pulled: true, status: 'present' }],
  },
  {
    name: 'override_path to a root that is not the API',
    places: () => [`https://${mirror.host}/api`],
    dirs: () => ({ [dirOf(origin.host)]: `server = "https://${origin.host}"\ncapabilities = ["push"]\n${ca()}\n[host."https://${mirror.host}/api"]\n  override_path = true\n  ${ca()}\n` }),
    // distribution answers 404 under any path with its registry/2.0 header: containerd reads "not
    // found", the exporter the last word's 404 (and indeed no node can pull through this file).
    images: () => [{ image: `${origin.host}/app/mirror:v1`, pulled: false, status: 'absent' }],
  },
  {
    name: 'skip_verify',
    places: () => [`https://${mirror.host}/v2`],
    dirs: () => ({ [dirOf(origin.host)]: `server = "https://${origin.host}"\ncapabilities = ["push"]\n[host."https://${mirror.host}"]\n  skip_verify = true\n` }),
    images: () => [{ image: `${origin.host}/app/mirror:v1`, pulled: true, status: 'present' }],
  },
  {
    name: 'neither ca nor skip_verify: the test CA is not trusted',
    places: () => [`https://${mirror.host}/v2`],
    dirs: () => ({ [dirOf(origin.host)]: `server = "https://${origin.host}"\ncapabilities = ["push"]\n[host."https://${mirror.host}"]\n` }),
    images: () => [{ image: `${origin.host}/app/mirror:v1`, pulled: false, status: 'could-not-check' }],
  },
  {
    name: 'ca relative to the directory',
    places: () => [`https://${mirror.host}/v2`, `https://${origin.host}/v2`],
    dirs: () => ({ [dirOf(origin.host)]: `server = "https://${origin.host}"\nca = "ca.crt"\n[host."https://${mirror.host}"]\n  ca = ["ca.crt"]\n` }),
    images: () => [
      { image: `${origin.host}/app/mirror:v1`, pulled: true, status: 'present' },
      { image: `${origin.host}/app/origin:v1`, pulled: true, status: 'present' },
    ],
  },
  {
    name: '_default for a registry without a directory of its own',
    places: () => [`https://${mirror.host}/v2`, `http://${plain.host}/v2`],
    dirs: () => ({ _default: `[host."https://${mirror.host}"]\n  ${ca()}\n` }),
    images: () => [
      { image: `${plain.host}/app/mirror:v1`, pulled: true, status: 'present' },
      { image: `${plain.host}/app/plain:v1`, pulled: true, status: 'present' },
      { image: `${plain.host}/app/gone:v1`, pulled: false, status: 'absent' },
    ],
  },
  {
    name: 'docker.io short names',
    places: () => [`https://${mirror.host}/v2`, `https://${origin.host}/v2`],
    dirs: () => ({ 'docker.io': `server = "https://${origin.host}"\n${ca()}\n[host."https://${mirror.host}"]\n  ${ca()}\n` }),
    images: () => [
      { image: 'hub:v1', ctrRef: 'docker.io/library/hub:v1', pulled: true, status: 'present' },
      { image: 'hubmirror:v1', ctrRef: 'docker.io/library/hubmirror:v1', pulled: true, status: 'present' },
      { image: 'hubgone:v1', ctrRef: 'docker.io/library/hubgone:v1', pulled: false, status: 'absent' },
    ],
  },
  {
    name: 'an http:// host',
    places: () => [`http://${plain.host}/v2`, `https://${origin.host}/v2`],
    dirs: () => ({ [dirOf(origin.host)]: `server = "https://${origin.host}"\n${ca()}\n[host."http://${plain.host}"]\n` }),
    images: () => [
      { image: `${origin.host}/app/plain:v1`, pulled: true, status: 'present' },
      { image: `${origin.host}/app/origin:v1`, pulled: true, status: 'present' },
    ],
  },
  {
    name: 'a pull-through cache, then the registry',
    places: () => [`http://${cache.host}/v2`, `http://${plain.host}/v2`],
    dirs: () => ({ [dirOf(plain.host)]: `[host."http://${cache.host}"]\n` }),
    images: () => [
      { image: `${plain.host}/app/plain:v1`, pulled: true, status: 'present' },
      { image: `${plain.host}/app/gone:v1`, pulled: false, status: 'absent' },
    ],
  },
  {
    // The cache has the last word: its 404 is final (the README's caveat of --image-mirror-only).
    name: 'a pull-through cache as the only place',
    places: () => [`http://${cache.host}/v2`],
    dirs: () => ({ [dirOf(plain.host)]: `server = "http://${plain.host}"\ncapabilities = ["push"]\n[host."http://${cache.host}"]\n` }),
    images: () => [
      { image: `${plain.host}/app/plain:v1`, pulled: true, status: 'present' },
      { image: `${plain.host}/app/gone:v1`, pulled: false, status: 'absent' },
    ],
  },
  {
    // containerd: "no resolve hosts: not found" — the node never asks anyone, so nobody said 404.
    name: 'no host may resolve a tag',
    places: () => ['blocked'],
    dirs: () => ({ [dirOf(origin.host)]: `server = "https://${origin.host}"\ncapabilities = ["push"]\n[host."https://${mirror.host}"]\n  capabilities = ["pull"]\n  ${ca()}\n` }),
    images: () => [{ image: `${origin.host}/app/mirror:v1`, pulled: false, status: 'blocked' }],
  },
  {
    name: 'a pull-only mirror serves digests, not tags',
    places: () => [`https://${origin.host}/v2`],
    dirs: () => ({ [dirOf(origin.host)]: `server = "https://${origin.host}"\n${ca()}\n[host."https://${mirror.host}"]\n  capabilities = ["pull"]\n  ${ca()}\n` }),
    images: () => [
      { image: `${origin.host}/app/mirror:v1`, pulled: false, status: 'absent' },
      { image: `${origin.host}/app/bydigest@${mirrorDigest}`, pulled: true, status: 'present' },
    ],
  },
];

async function freeHost(): Promise<string> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

/** Writes a case's hosts directory; returns its root. */
async function hostsDir(index: number, dirs: Record<string, string | undefined>): Promise<string> {
  const root = join(work, `case-${index}`);
  for (const [name, text] of Object.entries(dirs)) {
    await mkdir(join(root, name), { recursive: true });
    await copyFile(pki.caCertFile, join(root, name, 'ca.crt'));
    if (text !== undefined) await writeFile(join(root, name, 'hosts.toml'), text);
  }
  return root;
}

const ctrRefOf = (e: Expectation) => e.ctrRef ?? e.image;

/** Empty HOME and DOCKER_CONFIG: no credentials but the ones a test gives. */
function checkEnv(): Record<string, string> {
  const home = join(work, 'home');
  return { HOME: home, DOCKER_CONFIG: join(home, '.docker'), NO_COLOR: '' };
}

/** `check` in this process (test/support/check-here.ts); one test below runs the real process. */
const checkHere = (args: readonly string[]) => runHere(args, { env: checkEnv() });

describe.skipIf(missing !== undefined)(`--containerd-hosts-dir against containerd ${missing ? `(skipped: ${missing})` : ''}`, () => {
  const roots: string[] = [];
  const pulls: boolean[][] = [];

  beforeAll(async () => {
    work = await makeTempDir('hostsdir');
    pki = await createPki();
    [containerd, origin, mirror, empty, plain] = await Promise.all([
      startContainerd(),
      startRegistry({ tls: pki }),
      startRegistry({ tls: pki }),
      startRegistry({ tls: pki }),
      startRegistry(),
    ]);
    cache = await startRegistry({ pullThroughOf: { remoteurl: plain.url } });
    limiter = createServer((_req, res) => res.writeHead(429, { 'retry-after': '1' }).end());
    limiterHost = (await listenLoopback(limiter)).replace(/^https?:\/\//, '');
    downHost = await freeHost();
    await Promise.all([
      pushImage(origin, 'app/both', 'v1', 'docker'),
      pushImage(mirror, 'app/both', 'v1', 'docker'),
      pushImage(origin, 'app/origin', 'v1', 'docker'),
      pushImage(mirror, 'app/mirror', 'v1', 'docker'),
      pushImage(plain, 'app/plain', 'v1', 'docker'),
      pushImage(origin, 'library/hub', 'v1', 'docker'),
      pushImage(mirror, 'library/hubmirror', 'v1', 'docker'),
      pushManifestByDigestOnly(mirror, 'app/bydigest', 'docker').then((pushed) => {
        mirrorDigest = pushed.digest;
      }),
    ]);
    // ctr's answers for every case, one namespace per case so no pull sees another's content.
    for (const [index, c] of CASES.entries()) {
      const root = await hostsDir(index, c.dirs());
      roots.push(root);
      const results: boolean[] = [];
      for (const e of c.images()) {
        const { pulled, output } = await containerd.pull(ctrRefOf(e), root, `case${index}`);
        if (pulled !== e.pulled) console.error(`ctr, case "${c.name}", ${ctrRefOf(e)}:\n${output}`);
        results.push(pulled);
      }
      pulls.push(results);
    }
  });

  afterAll(async () => {
    await Promise.all([containerd?.stop(), origin?.stop(), mirror?.stop(), empty?.stop(), plain?.stop(), cache?.stop()]);
    limiter?.close();
  });

  test.each(CASES.map((c, i) => [c.name, i] as const))('ctr: %s', (_name, index) => {
    const c = CASES[index]!;
    expect(c.images().map((e, i) => [e.image, pulls[index]?.[i]])).toEqual(c.images().map((e) => [e.image, e.pulled]));
  });

  test.each(CASES.map((c, i) => [c.name, i] as const))('plan: %s', async (_name, index) => {
    // The loader reads each directory ctr was given; a plan names the places in ctr's order.
    const { places, files } = await loadContainerdHosts(roots[index]!);
    expect(files[0]).toBe(roots[index]);
    const first = parseImageReference(CASES[index]!.images()[0]!.image);
    const plan = places.plan(first);
    expect(plan.blocked === undefined ? plan.sources.map((s) => (s.endpoint ? `${s.endpoint.scheme}://${s.endpoint.host}${s.endpoint.apiPath}` : 'default')) : ['blocked']).toEqual(CASES[index]!.places());
    for (const e of CASES[index]!.images()) {
      const plan = places.plan(parseImageReference(e.image));
      if (plan.blocked !== undefined) continue;
      expect(plan.sources.at(-1)?.authoritative).toBe(true);
      expect(plan.sources.filter((s) => s.authoritative)).toHaveLength(1);
    }
  });

  test.skipIf(!flagWired).each(CASES.map((c, i) => [c.name, i] as const))('check agrees with ctr: %s', async (_name, index) => {
    const c = CASES[index]!;
    const images = c.images();
    const manifest = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'default' },
      spec: { containers: images.map((e, i) => ({ name: `c${i}`, image: e.image })) },
    });
    const file = join(work, `case-${index}.json`);
    await writeFile(file, manifest);
    const run = await checkHere([`--containerd-hosts-dir=${roots[index]}`, '--registry-timeout=5s', '--output=json', file]);
    const containers = (JSON.parse(run.stdout) as { containers: { container: string; status: string; reason?: string }[] }).containers;
    const told = `check said ${JSON.stringify(containers.map((x) => [x.container, x.status, x.reason]), null, 1)}\n${run.stderr}`;
    const said = images.map((e, i) => {
      const status = containers.find((x) => x.container === `c${i}`)?.status ?? 'missing';
      return [e.image, ['present', 'absent', 'blocked'].includes(status) ? status : 'could-not-check'];
    });
    expect(said, told).toEqual(images.map((e) => [e.image, e.status]));
    // The oracle's half of the rule: present exactly when ctr pulled it.
    expect(said.map(([, s]) => s === 'present')).toEqual(images.map((e) => e.pulled));
  });

  test.skipIf(!flagWired)('the real command: a broken hosts.toml is a flag error; an absent image exits 1', async () => {
    const file = join(work, 'cli.json');
    const images = CASES[0]!.images().map((e, i) => ({ name: `c${i}`, image: e.image }));
    await writeFile(file, JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec: { containers: images } }));
    const cli = (args: readonly string[]) =>
      ended(spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'check', ...args], { cwd: ROOT, env: { ...process.env, ...checkEnv() }, stdio: ['ignore', 'pipe', 'pipe'] }), { killAfterMs: 100_000 });
    const absent = await cli([`--containerd-hosts-dir=${roots[0]}`, '--registry-timeout=5s', file]);
    expect(absent.code, absent.stderr).toBe(1);
    const broken = join(work, 'broken');
    await mkdir(join(broken, 'docker.io'), { recursive: true });
    await writeFile(join(broken, 'docker.io', 'hosts.toml'), '[host."a"]\ncapabilities = "pull"\n');
    const bad = await cli([`--containerd-hosts-dir=${broken}`, file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${broken}/docker.io/hosts.toml: [host."a"]: capabilities must be an array`);
  });
});
