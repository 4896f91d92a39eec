import { patternsMatcher } from '../utils/glob.js';
import { parseImageReference, type ImageReference } from './reference.js';

/**
 * `--ignored-images` matching. An entry matches an image as written in the pod spec or its
 * normalized form; `*` matches any run of characters (including `/`), so `registry.example.com/team/*`
 * covers every image below that path. The globs are glob.ts's: linear in the image, whatever the
 * number of `*` (images are tenants' text).
 */
export type IgnoreMatcher = (image: string, ref?: ImageReference) => boolean;

export function ignoreMatcher(patterns: readonly string[]): IgnoreMatcher {
  // `nginx` in the flag also matches `docker.io/library/nginx:latest` in a spec, and vice versa.
  const canonical: string[] = [];
  for (const pattern of patterns.filter((p) => !p.includes('*'))) {
    try {
      canonical.push(parseImageReference(pattern).canonical);
    } catch {
      // Not a valid reference: it can still match an equally invalid spec string verbatim.
    }
  }
  const matches = patternsMatcher([...patterns, ...canonical]);
  return (image, ref) => matches(image) || (ref !== undefined && matches(ref.canonical));
}
