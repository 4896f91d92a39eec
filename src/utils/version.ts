import { readFileSync } from 'node:fs';

interface PackageJson {
  readonly name?: unknown;
  readonly version?: unknown;
  readonly homepage?: unknown;
}

/** package.json next to src/ or dist/; nothing when it cannot be read. */
const PACKAGE: PackageJson = (() => {
  try {
    return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as PackageJson;
  } catch {
    return {};
  }
})();

/** The package version. */
export const VERSION: string = typeof PACKAGE.version === 'string' ? PACKAGE.version : 'unknown';

/** The package (and tool) name. */
export const NAME: string = typeof PACKAGE.name === 'string' ? PACKAGE.name : 'k8s-image-existence-exporter';

/** Where the project is documented (package.json `homepage`), when it says. */
export const HOMEPAGE: string | undefined = typeof PACKAGE.homepage === 'string' && /^https?:\/\//.test(PACKAGE.homepage) ? PACKAGE.homepage : undefined;
