/**
 * Which platforms a workload needs that its image lacks, made once and reused: the platforms a
 * placement needs are worked out once per nodes listing, and what an image lacks once per (its
 * platforms, those needs). Both inputs are shared objects (one array of platforms per digest, one
 * of needs per placement), so an unchanged answer is the same array from scrape to scrape.
 */
import type { Workload } from '../kubernetes/workloads.js';
import { requiredPlatforms, type NodeFacts } from './placement.js';
import { missingPlatforms, type Platform, type ProvidedPlatforms } from './platform.js';

const NONE: readonly string[] = Object.freeze([]);

/**
 * The platforms a node must match to use it; 'any' when any node can; undefined when not known (a
 * container's single manifest whose config names none). A container's image must run on the node,
 * so its platforms count wherever they were read. An image volume is only mounted, nothing of it
 * runs: a node fails to pull it only when an index offers no entry for the node (containerd:
 * LimitManifests' "no match for platform in manifest"; CRI-O: "no image found in image index"),
 * while a single manifest is pulled and mounted on any node whatever its config says.
 */
export function platformsToMatch(provided: ProvidedPlatforms, volume: boolean): readonly Platform[] | 'any' | undefined {
  return volume && provided.from === 'manifest' ? 'any' : provided.platforms;
}

export class MissingPlatforms {
  private nodes: readonly NodeFacts[] | undefined;
  /** Per placement key, the platforms of the nodes it allows: for the current nodes listing. */
  private needs = new Map<string, readonly string[]>();
  private readonly missing = new WeakMap<readonly Platform[], WeakMap<readonly string[], readonly string[]>>();

  /** The platforms the workload's nodes have that cannot use this container's image (or volume), sorted; [] when none; undefined when not known. */
  ofPulled(workload: Workload, volume: boolean, provided: ProvidedPlatforms, nodes: readonly NodeFacts[]): readonly string[] | undefined {
    const platforms = platformsToMatch(provided, volume);
    if (platforms === 'any') return NONE;
    return platforms && this.of(workload, platforms, nodes);
  }

  /** The platforms the workload's nodes have that `provided` cannot run on, sorted; [] when none. */
  of(workload: Workload, provided: readonly Platform[], nodes: readonly NodeFacts[]): readonly string[] {
    if (nodes !== this.nodes) {
      this.nodes = nodes;
      this.needs = new Map();
    }
    let needs = this.needs.get(workload.placementKey);
    if (!needs) {
      needs = requiredPlatforms(workload.placement, nodes);
      this.needs.set(workload.placementKey, needs);
    }
    let byNeeds = this.missing.get(provided);
    if (!byNeeds) {
      byNeeds = new WeakMap();
      this.missing.set(provided, byNeeds);
    }
    let missing = byNeeds.get(needs);
    if (!missing) {
      const found = missingPlatforms(needs, provided);
      missing = found.length === 0 ? NONE : found;
      byNeeds.set(needs, missing);
    }
    return missing;
  }
}
