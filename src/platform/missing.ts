/**
 * Which platforms a workload needs that its image lacks, made once and reused: the platforms a
 * placement needs are worked out once per nodes listing, and what an image lacks once per (its
 * platforms, those needs). Both inputs are shared objects (one array of platforms per digest, one
 * of needs per placement), so an unchanged answer is the same array from scrape to scrape.
 */
import type { Workload } from '../kubernetes/workloads.js';
import { requiredPlatforms, type NodeFacts } from './placement.js';
import { missingPlatforms, type Platform } from './platform.js';

const NONE: readonly string[] = Object.freeze([]);

export class MissingPlatforms {
  private nodes: readonly NodeFacts[] | undefined;
  /** Per placement key, the platforms of the nodes it allows: for the current nodes listing. */
  private needs = new Map<string, readonly string[]>();
  private readonly missing = new WeakMap<readonly Platform[], WeakMap<readonly string[], readonly string[]>>();

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
