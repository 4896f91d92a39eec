/**
 * One small, realistic result of `check` for the outputs' tests: a present image, an absent one, an
 * invalid reference, a container without an image, a registry that could not be reached (in a helm
 * stream, located at its template), a cluster workload (no location) whose credentials were refused,
 * and a workload whose names, image, reason and file hold what each output must escape.
 */
import type { FailOn } from '../../src/flags/config.js';
import type { CheckReport, OutputContext } from '../../src/check/output/output.js';
import { exitCodeOf, summarize, type CheckedContainer, type SourceLocation } from '../../src/check/report.js';

export const CWD = '/work/repo';

/** Text no output may pass through unescaped. */
export const HOSTILE = {
  name: 'evil%0A::error::x,y\nline2 <b>"q"</b> ]]> 100%',
  container: 'c,1:2%\r\n]]>',
  image: 'evil.example/app:1"<&]]>\n%0A',
  reason: 'registry says MANIFEST_UNKNOWN <!-- ]]> --> \u001b[31m%2C,: \u0000',
  file: 'deploy/odd dir/a,b:c%.yaml',
};

function container(
  fields: Pick<CheckedContainer, 'kind' | 'namespace' | 'name' | 'container' | 'image' | 'status' | 'reason'> & { init?: boolean; volume?: boolean },
  location: SourceLocation | null,
): CheckedContainer {
  return { init: false, volume: false, ...fields, source: location ? `${location.file}:${location.line}` : null, location };
}

/** Problems first, as checkedContainers orders them. */
export const CONTAINERS: readonly CheckedContainer[] = [
  container(
    { kind: 'Deployment', namespace: 'shop', name: 'checkout', container: 'app', image: 'registry.example.com/shop/checkout:1.4.1', status: 'absent', reason: 'registry says MANIFEST_UNKNOWN' },
    { file: `${CWD}/deploy/shop.yaml`, line: 24 },
  ),
  container(
    { kind: 'Job', namespace: 'shop', name: HOSTILE.name, container: HOSTILE.container, image: HOSTILE.image, status: 'absent', reason: HOSTILE.reason },
    { file: HOSTILE.file, line: 3 },
  ),
  container(
    { kind: 'Deployment', namespace: 'shop', name: 'cart', container: 'app', image: 'Registry.example.com/Shop/Cart:2', status: 'bad_reference', reason: 'invalid image reference "Registry.example.com/Shop/Cart:2": repository name must be lowercase' },
    { file: `${CWD}/deploy/shop.yaml`, line: 51 },
  ),
  container(
    { kind: 'Job', namespace: 'shop', name: 'build-', container: 'main', image: '', status: 'bad_reference', reason: 'no image: the container names none (its image field is missing or empty)' },
    { file: 'deploy/jobs.yaml', line: 1 },
  ),
  container(
    {
      kind: 'StatefulSet',
      namespace: 'shop',
      name: 'db',
      container: 'migrate',
      init: true,
      image: 'registry.internal:5000/shop/migrate:7',
      status: 'registry_unavailable',
      reason: 'registry.internal:5000: connection refused: nothing listens on that port (ECONNREFUSED)',
    },
    { file: '-', line: 112, template: 'shop/templates/db.yaml' },
  ),
  container(
    { kind: 'CronJob', namespace: 'ops', name: 'backup', container: 'dump', image: 'ghcr.io/acme/backup:3', status: 'auth_failure', reason: 'ghcr.io: registry rejected the credentials (HTTP 401)' },
    null,
  ),
  container(
    { kind: 'Deployment', namespace: 'shop', name: 'web', container: 'app', image: 'registry.example.com/shop/web:1.0', status: 'present', reason: 'manifest found (HTTP 200)' },
    { file: `${CWD}/deploy/shop.yaml`, line: 1 },
  ),
];

export function reportOf(containers: readonly CheckedContainer[] = CONTAINERS, options: { failOn?: FailOn; unlisted?: string[]; warnings?: string[] } = {}): CheckReport {
  const failOn = options.failOn ?? 'unknown';
  const summary = summarize(containers, options.unlisted ?? []);
  return { containers, summary, exitCode: exitCodeOf(summary, failOn), warnings: options.warnings ?? [], failOn };
}

export const CONTEXT: OutputContext = {
  colour: false,
  cwd: CWD,
  tool: { name: 'k8s-image-existence-exporter', version: '1.2.3', informationUri: 'https://example.com/k8s-image-existence-exporter' },
};
