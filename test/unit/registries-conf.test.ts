/**
 * registries.conf read as containers/image's pkg/sysregistriesv2 reads it. Cases are taken from its
 * tests (system_registries_v2_test.go, testdata/) and the containers-registries.conf(5) examples.
 */
import { execFile } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import type { PullPlan } from '../../src/image/pull-plan.js';
import { parseImageReference } from '../../src/image/reference.js';
import { NodeConfigError } from '../../src/node-config/node-config-error.js';
import { loadRegistriesConf, MAX_CONF_BYTES, MAX_DROP_INS } from '../../src/node-config/registries-conf-load.js';
import { findRegistry, MAX_REGISTRIES, mergeRegistries, parseRegistriesConf, planPull, refMatchingPrefix } from '../../src/node-config/registries-conf.js';
import { makeTempDir } from '../support/tmp.js';

const execFileAsync = promisify(execFile);
const FILE = '/etc/containers/registries.conf';
const DIGEST = `sha256:${'a'.repeat(64)}`;

function conf(text: string) {
  return { registries: parseRegistriesConf(text, FILE) };
}

/** The plan as texts: `mirror ` for non-authoritative places, `insecure ` for an insecure endpoint. */
function places(plan: PullPlan): string[] | string {
  if (plan.blocked !== undefined && plan.sources.length === 0) return plan.blocked;
  const listed = plan.sources.map((s) => `${s.authoritative ? '' : 'mirror '}${s.endpoint ? 'insecure ' : ''}${s.ref.canonical}`);
  return plan.blocked === undefined ? listed : [...listed, `then blocked: ${plan.blocked}`];
}

function plan(text: string, image: string): string[] | string {
  return places(planPull(conf(text), parseImageReference(image)));
}

function parseError(text: string, options = { dropIn: false }): string {
  try {
    parseRegistriesConf(text, FILE, options);
  } catch (err) {
    expect(err).toBeInstanceOf(NodeConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the file to be refused');
}

describe('refMatchingPrefix (containers/image TestRefMatchingPrefix)', () => {
  const long = `example.com/foo@${DIGEST}`;
  test.each([
    ['docker.io', 'docker.io', 9],
    ['docker.io', 'example.com', -1],
    ['example.com:5000', 'example.com:5000', 16],
    ['example.com:50000', 'example.com:5000', -1],
    ['example.com:5000', 'example.com', 11], // unintended upstream, kept: that is what nodes do
    ['example.com/foo/bar:baz', 'example.com', 11],
    ['docker.io', 'docker.io/library', -1],
    ['docker.io/libraryy', 'docker.io/library', -1],
    ['docker.io/library/busybox', 'docker.io/library', 17],
    ['docker.io/library/busybox2', 'docker.io/library/busybox', -1],
    ['example.com/foo', 'example.com/foo:bar', -1],
    [long, long, long.length],
    ['example.com/foo', '*', -1],
    ['a.example.com/x', '*.example.com', 13],
    ['a.b.example.com:5000/x', '*.example.com', 15],
    ['example.com/x', '*.example.com', -1],
    ['a.example.community/x', '*.example.com', -1],
    ['registry.io/a.example.com/x', '*.example.com', -1],
  ])('%s vs %s → %i', (ref, prefix, expected) => {
    expect(refMatchingPrefix(ref, prefix)).toBe(expected);
  });
});

describe('FindRegistry: the longest matching prefix (testdata/find-registry.conf)', () => {
  const text = `
[[registry]]
location = "registry.com:5000"
prefix = "simple-prefix.com"
[[registry]]
location = "another-registry.com:5000"
prefix = "complex-prefix.com:4000/with/path"
[[registry]]
location = "no-prefix.com"
[[registry]]
location = "subdomain-prefix.com"
prefix = "*.so.simple-prefix.com"
[[registry]]
location = "subdomain-prefix-2.com"
prefix = "*.simple-prefix.com"
[[registry]]
location = "subdomain-prefix-4.com"
prefix = "*.bar.docker.io"
[[registry]]
location = "subdomain-prefix-2.com"
prefix = "*.docker.io"
[[registry]]
location = "subdomain-prefix-5.com"
prefix = "foo.bar.example.com:5000"
[[registry]]
location = "subdomain-prefix-3.com"
prefix = "*.bar.example.com"
`;
  test.each([
    ['simple-prefix.com/foo/bar', 'registry.com:5000'],
    ['simple-prefix.com', 'registry.com:5000'],
    ['not.so.simple-prefix.com/x', 'subdomain-prefix.com'],
    ['not.quite.simple-prefix.com:5000/with/path', 'subdomain-prefix-2.com'],
    ['foo.bar.docker.io:5000/omg/wtf', 'subdomain-prefix-4.com'],
    ['foo.docker.io:5000/omg/wtf', 'subdomain-prefix-2.com'],
    ['foo.bar.example.com:5000/omg/wtf', 'subdomain-prefix-5.com'],
    ['foo.bar.example.com:6000/omg/wtf', 'subdomain-prefix-3.com'],
    ['complex-prefix.com:4000/with/path/and/beyond', 'another-registry.com:5000'],
    ['no-prefix.com/foo', 'no-prefix.com'],
    ['simple-prefix.comx', undefined],
  ])('%s → %s', (name, location) => {
    expect(findRegistry(conf(text), name)?.location).toBe(location);
  });
});

describe('pull sources (PullSourcesFromReference, containers-registries.conf(5))', () => {
  const manPage = `
[[registry]]
prefix = "example.com/foo"
insecure = false
blocked = false
location = "internal-registry-for-example.com/bar"

[[registry.mirror]]
location = "example-mirror-0.local/mirror-for-foo"

[[registry.mirror]]
location = "example-mirror-1.local/mirrors/foo"
insecure = true
`;
  test('the man page example: mirrors in order, then the location, the matched prefix rewritten', () => {
    expect(plan(manPage, 'example.com/foo/myimage:latest')).toEqual([
      'mirror example-mirror-0.local/mirror-for-foo/myimage:latest',
      'mirror insecure example-mirror-1.local/mirrors/foo/myimage:latest',
      'internal-registry-for-example.com/bar/myimage:latest',
    ]);
  });

  test('each place is matched by credentials under its own host; an insecure place says how it is reached', () => {
    const result = planPull(conf(manPage), parseImageReference('example.com/foo/myimage:latest'));
    expect('sources' in result && result.sources.map((s) => s.ref.registry)).toEqual(['example-mirror-0.local', 'example-mirror-1.local', 'internal-registry-for-example.com']);
    expect('sources' in result && result.sources[1]?.endpoint).toEqual({ scheme: 'https', host: 'example-mirror-1.local', apiPath: '/v2', tls: { skipVerify: true }, httpFallback: true });
  });

  test('a name no prefix matches is pulled as it is', () => {
    expect(plan(manPage, 'example.com/foobar/x:1')).toEqual(['example.com/foobar/x:1']);
    expect(plan('', 'nginx')).toEqual(['docker.io/library/nginx:latest']);
  });

  test('prefix defaults to the location; docker.io names are the normalized ones', () => {
    const text = '[[registry]]\nlocation = "docker.io"\ninsecure = true\n[[registry.mirror]]\nlocation = "mirror.gcr.io"\n';
    expect(plan(text, 'nginx:1.25')).toEqual(['mirror mirror.gcr.io/library/nginx:1.25', 'insecure docker.io/library/nginx:1.25']);
    const result = planPull(conf(text), parseImageReference('nginx'));
    // containers/image connects to registry-1.docker.io for docker.io.
    expect('sources' in result && result.sources[1]?.endpoint?.host).toBe('registry-1.docker.io');
  });

  test('pull-from-mirror chooses mirrors by the kind of reference', () => {
    const text = `
[[registry]]
location = "registry.example"
[[registry.mirror]]
location = "digests.example"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "tags.example"
pull-from-mirror = "tag-only"
[[registry.mirror]]
location = "all.example"
pull-from-mirror = "all"
`;
    expect(plan(text, 'registry.example/a:1')).toEqual(['mirror tags.example/a:1', 'mirror all.example/a:1', 'registry.example/a:1']);
    expect(plan(text, `registry.example/a@${DIGEST}`)).toEqual([`mirror digests.example/a@${DIGEST}`, `mirror all.example/a@${DIGEST}`, `registry.example/a@${DIGEST}`]);
    // A tag and a digest: pulled by digest, so digest-only mirrors count.
    expect(plan(text, `registry.example/a:1@${DIGEST}`)[0]).toBe(`mirror digests.example/a:1@${DIGEST}`);
  });

  test('mirror-by-digest-only (the older, registry-wide form)', () => {
    const text = '[[registry]]\nlocation = "registry.example"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m.example"\n';
    expect(plan(text, 'registry.example/a:1')).toEqual(['registry.example/a:1']);
    expect(plan(text, `registry.example/a@${DIGEST}`)).toEqual([`mirror m.example/a@${DIGEST}`, `registry.example/a@${DIGEST}`]);
  });

  test('wildcards: a location replaces the matched host; without one the name is kept', () => {
    const text = '[[registry]]\nprefix = "*.example.com"\nlocation = "internal.example/ns"\n[[registry]]\nprefix = "*.kept.test"\n[[registry.mirror]]\nlocation = "m.example/cache"\n';
    expect(plan(text, 'a.b.example.com/team/app:1')).toEqual(['internal.example/ns/team/app:1']);
    expect(plan(text, 'x.kept.test/app:1')).toEqual(['mirror m.example/cache/app:1', 'x.kept.test/app:1']);
  });

  test('blocked: decided by the name each place is pulled by, as newDockerClient does', () => {
    const text = `
[[registry]]
location = "blocked.example"
blocked = true
[[registry]]
prefix = "moved.example"
location = "blocked.example/moved"
[[registry]]
prefix = "free.example"
location = "elsewhere.example"
blocked = true
[[registry]]
prefix = "cached.example"
location = "blocked.example"
blocked = true
[[registry.mirror]]
location = "m.example"
`;
    expect(plan(text, 'blocked.example/a:1')).toBe(`registry blocked.example is blocked in ${FILE}`);
    expect(plan(text, 'moved.example/a:1')).toBe(`registry blocked.example is blocked in ${FILE}`);
    // Blocked under its prefix, but the name it rewrites to is not: containers/image pulls it.
    expect(plan(text, 'free.example/a:1')).toEqual(['elsewhere.example/a:1']);
    // (Entries of one location must agree on blocked.) The location is blocked, its mirror is not: the
    // mirror is tried, but has not the last word — a miss there is `blocked`, never `absent`.
    expect(plan(text, 'cached.example/a:1')).toEqual(['mirror m.example/a:1', `then blocked: registry blocked.example is blocked in ${FILE}`]);
  });

  test('a rewrite that gives an invalid name refuses the image, as the pull fails', () => {
    // docker.io/library/nginx → docker.io/nginx, which containers/image's ParseNamed refuses as not canonical.
    expect(plan('[[registry]]\nprefix = "docker.io/library"\nlocation = "docker.io"\n', 'nginx')).toMatch(/gives an invalid reference/);
  });
});

describe('validation (postProcessRegistries, loadConfigFile)', () => {
  test.each([
    ['[[registry]]\ninsecure = true\n', /both location and prefix are unset/],
    ['[[registry]]\nprefix = "example.com"\n', /location is unset and prefix "example.com" is not in the format \*\.example\.com/],
    ['[[registry]]\nlocation = "http://example.com"\n', /URI schemes are not supported/],
    ['[[registry]]\nprefix = "https://example.com"\nlocation = "example.com"\n', /URI schemes are not supported/],
    ['[[registry]]\nlocation = "example.com"\npull-from-mirror = "all"\n', /pull-from-mirror must not be set for a non-mirror registry/],
    ['[[registry]]\nlocation = "example.com"\n[[registry.mirror]]\nlocation = "m.example"\npull-from-mirror = "sometimes"\n', /unsupported pull-from-mirror value "sometimes"/],
    ['[[registry]]\nlocation = "example.com"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m.example"\npull-from-mirror = "all"\n', /cannot set mirror-by-digest-only/],
    ['[[registry]]\nlocation = "example.com"\n[[registry.mirror]]\ninsecure = true\n', /mirror #1: invalid condition: mirror location is unset/],
    ['[[registry]]\nlocation = "example.com"\n[[registry]]\nprefix = "example.com/foo"\nlocation = "example.com"\ninsecure = true\n', /registry "example.com" is defined multiple times with conflicting "insecure" setting/],
    ['[[registry]]\nlocation = "example.com"\nblocked = true\n[[registry]]\nprefix = "example.com/foo"\nlocation = "example.com"\n', /conflicting "blocked" setting/],
    ['[[registry]]\nprefix = "*.example.com/foo"\nlocation = "example.com"\n', /Wildcarded prefix should be in the format/i],
    ['[[registry]]\nprefix = "*.example.com:5000"\n', /Wildcarded prefix should be in the format/i],
    ['unqualified-search-registries = ["not a domain"]\n', /invalid unqualified-search-registries entry/],
    ['short-name-mode = "lenient"\n', /invalid short-name mode "lenient"/],
    ['[[registry]]\nlocation = "Example.com/Upper"\n', /#1: location "Example.com\/Upper" is not a registry/],
    ['[registries.search]\nregistries = ["a.example"]\n[[registry]]\nlocation = "b.example"\n', /mixing sysregistry v1/],
    ['[registries.block]\nregistries = ["http://a.example"]\n', /URI schemes are not supported/],
  ])('%j is refused', (text, message) => {
    const error = parseError(text);
    expect(error).toMatch(message);
    expect(error.startsWith(`${FILE}: `)).toBe(true);
  });

  test('a wildcard in the middle is no wildcard: a literal prefix that needs a location, matching nothing real', () => {
    expect(parseError('[[registry]]\nprefix = "example.*.com"\n')).toMatch(/location is unset/);
    expect(plan('[[registry]]\nprefix = "example.*.com"\nlocation = "x.example"\n', 'example.a.com/app:1')).toEqual(['example.a.com/app:1']);
  });

  test('values of the wrong type name the entry and key', () => {
    expect(parseError('[[registry]]\nlocation = "a.example"\ninsecure = "yes"\n')).toMatch(/\[\[registry\]\] #1: insecure must be true or false, not a string/);
    expect(parseError('[[registry]]\nlocation = "a.example"\n[[registry]]\nlocation = 5\n')).toMatch(/#2: location must be a string, not a number/);
    expect(parseError('[registry]\nlocation = "a.example"\n')).toMatch(/registry must be an array of tables/);
    expect(parseError('[[registry]]\nlocation = "a.example"\nmirror = "m.example"\n')).toMatch(/#1: mirror must be an array of tables/);
    expect(parseError('[[registry]]\nlocation = "a.example"\n[[registry.mirror]]\nlocation = "m.example"\ninsecure = 1\n')).toMatch(/#1: mirror #1: insecure must be true or false/);
  });

  test('TOML syntax errors give file:line:column', () => {
    expect(parseError('[[registry]]\nlocation = "a.example"\nblocked = tru\n')).toMatch(new RegExp(`^${FILE}:3:\\d+: `));
  });

  test('duplicate prefixes: the first wins, silently, as upstream; the result is sorted by prefix', () => {
    const registries = parseRegistriesConf('[[registry]]\nlocation = "z.example"\n[[registry]]\nprefix = "a.example"\nlocation = "first.example"\n[[registry]]\nprefix = "a.example"\nlocation = "second.example"\n', FILE);
    expect(registries.map((r) => [r.prefix, r.location])).toEqual([['a.example', 'first.example'], ['z.example', 'z.example']]);
  });

  test('trailing slashes are dropped from locations and prefixes', () => {
    expect(plan('[[registry]]\nprefix = "a.example/team/"\nlocation = "b.example/ns//"\n', 'a.example/team/app:1')).toEqual(['b.example/ns/app:1']);
  });

  test('short-name settings are read for their types only', () => {
    expect(parseRegistriesConf('unqualified-search-registries = ["docker.io", "quay.io"]\nshort-name-mode = "enforcing"\ncredential-helpers = ["containers-auth.json"]\n[aliases]\n"fedora" = "registry.fedoraproject.org/fedora"\n', FILE)).toEqual([]);
  });

  test('v1 tables are converted as ConvertToV2 does: block and insecure per location', () => {
    const text = '[registries.search]\nregistries = ["a.example"]\n[registries.block]\nregistries = ["b.example"]\n[registries.insecure]\nregistries = ["b.example////", "d.example"]\n';
    expect(parseRegistriesConf(text, FILE).map((r) => [r.prefix, r.blocked, r.insecure])).toEqual([['b.example', true, true], ['d.example', false, true]]);
    expect(plan(text, 'b.example/x:1')).toBe(`registry b.example is blocked in ${FILE}`);
    expect(parseError(text, { dropIn: true })).toMatch(/must be in v2 format/);
  });
});

describe('drop-ins (updateWithConfigurationFrom)', () => {
  test('a drop-in entry replaces the one with the same prefix; the others stay', () => {
    const base = parseRegistriesConf('[[registry]]\nprefix = "*.bar.example.com"\nlocation = "original.example"\n[[registry]]\nlocation = "kept.example"\n', FILE);
    const dropIn = parseRegistriesConf('[[registry]]\nprefix = "*.bar.example.com"\nlocation = "override.example"\n', '/d/1.conf', { dropIn: true });
    const merged = mergeRegistries(base, dropIn);
    expect(merged.map((r) => [r.prefix, r.location, r.file])).toEqual([
      ['*.bar.example.com', 'override.example', '/d/1.conf'],
      ['kept.example', 'kept.example', FILE],
    ]);
  });
});

describe('loadRegistriesConf', () => {
  async function setUp(main: string, dropIns: Record<string, string> = {}): Promise<{ file: string; dir: string }> {
    const root = await makeTempDir('regconf-unit');
    const file = join(root, 'registries.conf');
    await writeFile(file, main);
    const dir = join(root, 'registries.conf.d');
    if (Object.keys(dropIns).length > 0) await mkdir(dir);
    for (const [name, text] of Object.entries(dropIns)) await writeFile(join(dir, name), text);
    return { file, dir };
  }

  test('reads the drop-ins beside the file in lexical order, *.conf only, and lists every path it read', async () => {
    const { file, dir } = await setUp('[[registry]]\nlocation = "a.example"\n[[registry.mirror]]\nlocation = "main.example"\n', {
      '20-b.conf': '[[registry]]\nlocation = "a.example"\n[[registry.mirror]]\nlocation = "twenty.example"\n',
      '10-a.conf': '[[registry]]\nlocation = "a.example"\n[[registry.mirror]]\nlocation = "ten.example"\n',
      '30-c.ignore': '[[registry]]\nlocation = "a.example"\nblocked = true\n',
    });
    await mkdir(join(dir, '40-sub.conf'));
    const loaded = await loadRegistriesConf(file);
    expect(places(loaded.places.plan(parseImageReference('a.example/x:1')))).toEqual(['mirror twenty.example/x:1', 'a.example/x:1']);
    expect(loaded.files).toEqual([file, dir, join(dir, '10-a.conf'), join(dir, '20-b.conf')]);
  });

  test('no registries.conf.d is no error; a missing file is', async () => {
    const { file } = await setUp('');
    expect((await loadRegistriesConf(file)).files).toHaveLength(2);
    await expect(loadRegistriesConf(`${file}.missing`)).rejects.toThrow(new NodeConfigError(`cannot read ${file}.missing: ENOENT`));
  });

  test('an error in a drop-in names the drop-in, with line:column for syntax', async () => {
    const { file, dir } = await setUp('', { 'bad.conf': '\n[[registry]\n' });
    await expect(loadRegistriesConf(file)).rejects.toThrow(new RegExp(`^${join(dir, 'bad.conf')}:2:\\d+: `));
  });

  test('a FIFO in place of a drop-in is an error, not a hang', async () => {
    const { file, dir } = await setUp('', { 'a.conf': '' });
    await execFileAsync('mkfifo', [join(dir, 'b.conf')]);
    await expect(loadRegistriesConf(file)).rejects.toThrow(`${join(dir, 'b.conf')} is not a regular file`);
  });

  test('bounds: a file over 1 MiB, more than 1,000 drop-ins', async () => {
    const big = await setUp(`# ${'x'.repeat(MAX_CONF_BYTES)}\n`);
    await expect(loadRegistriesConf(big.file)).rejects.toThrow(`${big.file} is larger than ${MAX_CONF_BYTES} bytes`);
    const exact = await setUp(`${'#'.repeat(MAX_CONF_BYTES - 1)}\n`);
    expect((await loadRegistriesConf(exact.file)).files).toHaveLength(2);
    const many = await setUp('', { 'a.conf': '' });
    await Promise.all(Array.from({ length: MAX_DROP_INS }, (_, i) => symlink(join(many.dir, 'a.conf'), join(many.dir, `${i}.conf`))));
    await expect(loadRegistriesConf(many.file)).rejects.toThrow(`${many.dir}: more than ${MAX_DROP_INS} drop-in files`);
  });
});

describe('hostile sizes', () => {
  function entries(count: number, sameLocation: boolean): string {
    let text = '';
    for (let i = 0; i < count; i++) text += `[[registry]]\nprefix = "p${i}.example/ns"\nlocation = "${sameLocation ? 'one' : `l${i}`}.example"\n`;
    return text;
  }

  test(`${MAX_REGISTRIES} entries, all of one location: parsed and planned; more are refused (the bound keeps each image's lookup small)`, () => {
    const text = entries(MAX_REGISTRIES, true);
    const parsed = conf(text);
    expect(parsed.registries).toHaveLength(MAX_REGISTRIES);
    expect(places(planPull(parsed, parseImageReference(`p${MAX_REGISTRIES - 1}.example/ns/app:1`)))).toEqual(['one.example/app:1']);
    expect(parseError(entries(10_000, true))).toBe(`${FILE}: 10000 registries; at most ${MAX_REGISTRIES} are read`);
  });

  test(`a conflicting setting in the last of ${MAX_REGISTRIES} entries of one location is still found`, () => {
    expect(parseError(`${entries(MAX_REGISTRIES - 1, true)}[[registry]]\nprefix = "last.example"\nlocation = "one.example"\ninsecure = true\n`)).toMatch(/conflicting "insecure"/);
  });
});
