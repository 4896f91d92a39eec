/**
 * `--registries-conf` against the real client as oracle: skopeo (Debian 1.9.3, which reads
 * registries.conf through containers/image) is asked for each image with the same file, and must get
 * the manifest exactly when our plan leads to it. Real registries on loopback play the registries,
 * mirrors, an insecure (untrusted TLS) and a plain-HTTP place, and a place that is down.
 *
 * skopeo reads only what it is given: --registries-conf (and CONTAINERS_REGISTRIES_CONF), a HOME of
 * its own (no ~/.config/containers), an empty --authfile, --cert-dir holding the test CA only. It
 * also reads /etc/containers/registries.conf.d (it has no flag to move it); beforeAll checks no
 * drop-in there defines a [[registry]] that would change these answers.
 */
import { execFile, spawn } from 'node:child_process';
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { checkHere as runHere } from '../support/check-here.js';
import { parseImageReference } from '../../src/image/reference.js';
import { loadRegistriesConf } from '../../src/node-config/registries-conf-load.js';
import { listenLoopback } from '../support/listen.js';
import { createPki, type Pki } from '../support/pki.js';
import { pushImage, pushManifestByDigestOnly } from '../support/push.js';
import { startRegistry, type RunningRegistry } from '../support/registry.js';
import { ended } from '../support/process.js';
import { makeTempDir } from '../support/tmp.js';

vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

const run = promisify(execFile);

let pki: Pki;
let primary: RunningRegistry; // TLS, trusted through --cert-dir / the CA file
let mirror: RunningRegistry; // TLS, trusted
let untrusted: RunningRegistry; // TLS with a certificate of a CA nobody is given
let plain: RunningRegistry; // plain HTTP
let down: RunningRegistry; // started then stopped: connection refused
let limiting: Server; // TLS, trusted, answers every request 429
let limitingHost: string;
let dir: string;
let home: string;
let certDir: string;
let authFile: string;
/** Digests pushed, by name. */
const digests: Record<string, string> = {};
const registries: RunningRegistry[] = [];

beforeAll(async () => {
  for (const name of await readdir('/etc/containers/registries.conf.d').catch(() => [] as string[])) {
    const text = await readFile(join('/etc/containers/registries.conf.d', name), 'utf8').catch(() => '');
    expect(/^\s*\[\[registry\]\]|^\s*registry\s*=/m.test(text), `/etc/containers/registries.conf.d/${name} defines registries: skopeo would read it`).toBe(false);
  }
  [pki, dir] = await Promise.all([createPki(), makeTempDir('regconf')]);
  const otherPki = await createPki();
  [primary, mirror, untrusted, plain, down] = await Promise.all([
    startRegistry({ tls: pki }),
    startRegistry({ tls: pki }),
    startRegistry({ tls: otherPki }),
    startRegistry(),
    startRegistry({ tls: pki }),
  ]);
  registries.push(primary, mirror, untrusted, plain, down);
  await down.stop();
  const [cert, key] = await Promise.all([readFile(pki.serverCertFile), readFile(pki.serverKeyFile)]);
  limiting = createHttpsServer({ cert, key }, (_req, res) => res.writeHead(429, { 'Retry-After': '1' }).end('{"errors":[{"code":"TOOMANYREQUESTS"}]}'));
  limitingHost = await listenLoopback(limiting);
  home = join(dir, 'home');
  certDir = join(dir, 'certs');
  await Promise.all([mkdir(home), mkdir(certDir)]);
  authFile = join(dir, 'auth.json');
  await Promise.all([writeFile(join(certDir, 'ca.crt'), pki.caCertPem), writeFile(authFile, '{"auths":{}}')]);
  const pushed = await Promise.all([
    pushImage(primary, 'team/app', 'v1', 'docker'),
    pushImage(mirror, 'team/mirrored', 'v1', 'docker'),
    pushManifestByDigestOnly(mirror, 'team/mirrored', 'docker'),
    pushImage(untrusted, 'team/app', 'v1', 'docker'),
    pushImage(plain, 'team/app', 'v1', 'docker'),
  ]);
  ['primary', 'mirror-tag', 'mirror-digest', 'untrusted', 'plain'].forEach((name, i) => (digests[name] = pushed[i]?.digest ?? ''));
}, 120_000);

afterAll(async () => {
  limiting?.close();
  await Promise.all(registries.map((r) => r.stop()));
});

let confCount = 0;
async function writeConf(text: string): Promise<string> {
  const file = join(dir, `registries-${++confCount}.conf`);
  await writeFile(file, text);
  return file;
}

interface SkopeoAnswer {
  readonly ok: boolean;
  readonly stderr: string;
}

/** Whether skopeo, reading `file` for its registries configuration, gets the manifest of `ref`. */
async function skopeo(file: string, ref: string): Promise<SkopeoAnswer> {
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_RUNTIME_DIR: home, CONTAINERS_REGISTRIES_CONF: file, REGISTRY_AUTH_FILE: authFile };
  try {
    await run('skopeo', ['--registries-conf', file, '--command-timeout', '60s', 'inspect', '--raw', '--retry-times', '0', '--authfile', authFile, '--cert-dir', certDir, `docker://${ref}`], { env, timeout: 80_000 });
    return { ok: true, stderr: '' };
  } catch (err) {
    return { ok: false, stderr: String((err as { stderr?: string }).stderr ?? err) };
  }
}

/** What `check --registries-conf FILE` says of each image: its status, in order (runCheck in this process). */
async function ours(file: string, refs: readonly string[]): Promise<string[]> {
  const manifest = join(dir, `manifest-${++confCount}.yaml`);
  const objects = refs.map((image, i) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { namespace: 'ns', name: `w${i}` },
    spec: { template: { spec: { containers: [{ name: 'app', image }] } } },
  }));
  await writeFile(manifest, objects.map((o) => JSON.stringify(o)).join('\n---\n'));
  const { code, stdout, stderr } = await runHere(['--registries-conf', file, '--registry-ca-file', pki.caCertFile, '--output=json', manifest], {
    env: { HOME: home, DOCKER_CONFIG: join(home, '.docker'), NO_COLOR: '' },
  });
  expect([0, 1, 3], stderr).toContain(code);
  const containers = (JSON.parse(stdout) as { containers: { name: string; status: string }[] }).containers;
  return refs.map((_, i) => containers.find((c) => c.name === `w${i}`)?.status ?? 'missing');
}

/**
 * The oracle's rule, image by image: ours is `present` exactly when skopeo gets the manifest, and
 * says the status expected here (`absent` only where the place with the last word answered 404).
 */
async function agree(file: string, cases: readonly (readonly [ref: string, status: string])[]): Promise<void> {
  const refs = cases.map(([ref]) => ref);
  const [answers, statuses] = await Promise.all([Promise.all(refs.map((ref) => skopeo(file, ref))), ours(file, refs)]);
  const rows = cases.map(([ref, expected], i) => ({ ref, skopeo: answers[i]?.ok, ours: statuses[i], expected }));
  for (const row of rows) expect(row.ours === 'present', JSON.stringify(row)).toBe(row.skopeo);
  expect(statuses).toEqual(cases.map(([, status]) => status));
}

/** The places our reading of the file gives for `ref`, as host/repository texts (or the refusal). */
async function places(file: string, ref: string): Promise<string[] | string> {
  const { places: conf } = await loadRegistriesConf(file);
  const plan = conf.plan(parseImageReference(ref));
  if (plan.blocked !== undefined && plan.sources.length === 0) return plan.blocked;
  const listed = plan.sources.map((s) => `${s.authoritative ? '' : 'mirror '}${s.endpoint ? `${s.endpoint.scheme}+insecure ` : ''}${s.ref.canonical}`);
  return plan.blocked === undefined ? listed : [...listed, `then blocked: ${plan.blocked}`];
}

describe('registries.conf read as containers/image reads it, skopeo as the oracle', () => {
  test('location rewrites the matched prefix; a 404 at the location is absent', async () => {
    const file = await writeConf(`[[registry]]\nprefix = "registry.example/team"\nlocation = "${primary.host}/team"\n`);
    await agree(file, [
      ['registry.example/team/app:v1', 'present'],
      ['registry.example/team/app:nope', 'absent'],
      // The prefix matches at a path boundary only: registry.example/teamx is asked as it is (no DNS).
      ['registry.example/teamx/app:v1', 'registry_unavailable'],
    ]);
    expect(await places(file, 'registry.example/team/app:v1')).toEqual([`${primary.host}/team/app:v1`]);
    expect(await places(file, 'registry.example/teamx/app:v1')).toEqual(['registry.example/teamx/app:v1']);
  });

  test('mirrors in order, then the location: a mirror down or without the image is passed over', async () => {
    const file = await writeConf(
      `[[registry]]\nprefix = "registry.example"\nlocation = "${primary.host}"\n` +
        `[[registry.mirror]]\nlocation = "${down.host}"\n[[registry.mirror]]\nlocation = "${mirror.host}"\n`,
    );
    await agree(file, [
      ['registry.example/team/app:v1', 'present'], // mirror down, mirror 404, the location has it
      ['registry.example/team/mirrored:v1', 'present'], // only the second mirror has it
      ['registry.example/team/none:v1', 'absent'], // the location's 404 is the last word
    ]);
    expect(await places(file, 'registry.example/team/app:v1')).toEqual([
      `mirror ${down.host}/team/app:v1`,
      `mirror ${mirror.host}/team/app:v1`,
      `${primary.host}/team/app:v1`,
    ]);
  });

  test('a mirror answering 429 is passed over; it never decides', async () => {
    const file = await writeConf(`[[registry]]\nprefix = "registry.example"\nlocation = "${primary.host}"\n[[registry.mirror]]\nlocation = "${limitingHost}"\n`);
    await agree(file, [
      ['registry.example/team/app:v1', 'present'],
      ['registry.example/team/none:v1', 'absent'],
    ]);
  });

  test('pull-from-mirror = "digest-only": a tag skips the mirror, a digest uses it', async () => {
    const file = await writeConf(
      `[[registry]]\nprefix = "registry.example"\nlocation = "${primary.host}"\n` +
        `[[registry.mirror]]\nlocation = "${mirror.host}"\npull-from-mirror = "digest-only"\n`,
    );
    const byTag = 'registry.example/team/mirrored:v1';
    const byDigest = `registry.example/team/mirrored@${digests['mirror-digest']}`;
    // Only the mirror has the image: by tag the location's 404 decides; by digest the mirror serves it.
    await agree(file, [
      [byTag, 'absent'],
      [byDigest, 'present'],
    ]);
    expect(await places(file, byTag)).toEqual([`${primary.host}/team/mirrored:v1`]);
    expect(await places(file, byDigest)).toEqual([`mirror ${mirror.host}/team/mirrored@${digests['mirror-digest']}`, `${primary.host}/team/mirrored@${digests['mirror-digest']}`]);
  });

  test('pull-from-mirror = "tag-only": a digest skips the mirror, a tag uses it', async () => {
    const file = await writeConf(
      `[[registry]]\nprefix = "registry.example"\nlocation = "${primary.host}"\n` +
        `[[registry.mirror]]\nlocation = "${mirror.host}"\npull-from-mirror = "tag-only"\n`,
    );
    await agree(file, [
      ['registry.example/team/mirrored:v1', 'present'],
      [`registry.example/team/mirrored@${digests['mirror-digest']}`, 'absent'],
    ]);
  });

  test('a wildcard prefix matches any subdomain and its location replaces the host', async () => {
    const file = await writeConf(`[[registry]]\nprefix = "*.example.test"\nlocation = "${primary.host}/team"\n`);
    await agree(file, [
      ['a.example.test/app:v1', 'present'],
      ['b.c.example.test/app:v1', 'present'],
      ['example.test/app:v1', 'registry_unavailable'], // not a subdomain: asked as it is (no DNS)
    ]);
    expect(await places(file, 'b.c.example.test/app:v1')).toEqual([`${primary.host}/team/app:v1`]);
  });

  test('a wildcard prefix without a location keeps the name and uses its mirrors', async () => {
    const file = await writeConf(`[[registry]]\nprefix = "*.example.test"\n[[registry.mirror]]\nlocation = "${mirror.host}"\n`);
    await agree(file, [
      ['a.example.test/team/mirrored:v1', 'present'],
      // The mirror's 404 is no proof; the name itself does not resolve.
      ['a.example.test/team/app:v1', 'registry_unavailable'],
    ]);
    expect(await places(file, 'a.example.test/team/app:v1')).toEqual([`mirror ${mirror.host}/team/app:v1`, 'a.example.test/team/app:v1']);
  });

  test('insecure: an untrusted certificate and plain HTTP are used only when the file says so', async () => {
    const secure = await writeConf(
      `[[registry]]\nprefix = "untrusted.example"\nlocation = "${untrusted.host}"\n[[registry]]\nprefix = "plain.example"\nlocation = "${plain.host}"\n`,
    );
    const insecure = await writeConf(
      `[[registry]]\nprefix = "untrusted.example"\nlocation = "${untrusted.host}"\ninsecure = true\n` +
        `[[registry]]\nprefix = "plain.example"\nlocation = "${plain.host}"\ninsecure = true\n`,
    );
    await agree(secure, [
      ['untrusted.example/team/app:v1', 'registry_unavailable'],
      ['plain.example/team/app:v1', 'registry_unavailable'],
    ]);
    await agree(insecure, [
      ['untrusted.example/team/app:v1', 'present'],
      ['plain.example/team/app:v1', 'present'],
      ['untrusted.example/team/none:v1', 'absent'],
      ['plain.example/team/none:v1', 'absent'],
    ]);
    expect(await places(insecure, 'plain.example/team/app:v1')).toEqual([`https+insecure ${plain.host}/team/app:v1`]);
  });

  test('blocked: the registry is refused; its mirrors are still tried (the check is per place)', async () => {
    const file = await writeConf(
      `[[registry]]\nprefix = "registry.example"\nlocation = "${primary.host}"\nblocked = true\n` +
        `[[registry]]\nprefix = "${primary.host}"\nlocation = "${primary.host}"\nblocked = true\n` +
        `[[registry]]\nprefix = "mirrored.example"\nlocation = "${primary.host}"\nblocked = true\n[[registry.mirror]]\nlocation = "${mirror.host}"\n`,
    );
    // skopeo 1.9.3 refuses these ("registry … is blocked in …") as containers/image's newDockerClient does.
    const [rewritten, direct] = await Promise.all([skopeo(file, 'registry.example/team/app:v1'), skopeo(file, `${primary.host}/team/app:v1`)]);
    expect(rewritten).toMatchObject({ ok: false, stderr: expect.stringMatching(/blocked/) });
    expect(direct).toMatchObject({ ok: false, stderr: expect.stringMatching(/blocked/) });
    await agree(file, [
      ['registry.example/team/app:v1', 'blocked'],
      [`${primary.host}/team/app:v1`, 'blocked'],
      ['mirrored.example/team/mirrored:v1', 'present'],
      // The mirror lacks it and the registry is refused: the node cannot pull it, and nobody said absent.
      ['mirrored.example/team/nowhere:v1', 'blocked'],
    ]);
    expect(await places(file, 'registry.example/team/app:v1')).toBe(`registry ${primary.host} is blocked in ${file}`);
    expect(await places(file, 'mirrored.example/team/mirrored:v1')).toEqual([`mirror ${mirror.host}/team/mirrored:v1`, `then blocked: registry ${primary.host} is blocked in ${file}`]);
  });

  test('blocked is decided by the name pulled: an entry that rewrites to an unblocked location is pulled', async () => {
    const file = await writeConf(`[[registry]]\nprefix = "rewrite.example"\nlocation = "${primary.host}"\nblocked = true\n`);
    await agree(file, [['rewrite.example/team/app:v1', 'present']]);
    expect(await places(file, 'rewrite.example/team/app:v1')).toEqual([`${primary.host}/team/app:v1`]);
  });
});

// skopeo cannot be pointed at another registries.conf.d (it reads /etc/containers/registries.conf.d):
// the drop-ins are held against containers/image's tryUpdatingCache as read, through the real command.
describe('the drop-ins and a broken file, through the real command', () => {
  test('a drop-in beside the file replaces the entry of its prefix', async () => {
    const root = join(dir, 'with-drop-ins');
    await mkdir(join(root, 'registries.conf.d'), { recursive: true });
    const file = join(root, 'registries.conf');
    await writeFile(file, `[[registry]]\nprefix = "registry.example"\nlocation = "${down.host}"\n`);
    await writeFile(join(root, 'registries.conf.d', '50-moved.conf'), `[[registry]]\nprefix = "registry.example"\nlocation = "${primary.host}"\n`);
    expect(await ours(file, ['registry.example/team/app:v1', 'registry.example/team/none:v1'])).toEqual(['present', 'absent']);
  });

  test('a file that does not read is a flag error (exit 2) naming the file and line:column', async () => {
    const file = await writeConf(`[[registry]]\nprefix = "registry.example"\nlocation = "${primary.host}"\nblocked = maybe\n`);
    const manifest = join(dir, 'one.yaml');
    await writeFile(manifest, 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: registry.example/team/app:v1}]}\n');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'check', '--registries-conf', file, manifest], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { ...process.env, HOME: home, DOCKER_CONFIG: join(home, '.docker') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { code, stderr } = await ended(child, { killAfterMs: 80_000 });
    expect(code).toBe(2);
    expect(stderr).toContain('--registries-conf');
    expect(stderr).toContain(`${file}:4:`);
  });
});
