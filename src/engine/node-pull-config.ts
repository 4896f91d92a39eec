/**
 * A node's own pull configuration (--containerd-hosts-dir, --registries-conf) as the engine sees it:
 * read at start-up (a problem is a flag error), then looked at again when a scrape asks for it and
 * read again when one of its files changed, as --docker-config is. A configuration that no longer
 * reads keeps the last good one, with one log line per distinct problem.
 */
import { stat } from 'node:fs/promises';
import { FlagError } from '../flags/syntax.js';
import { beforeDeadline, TIMED_OUT } from '../utils/deadline.js';
import type { PullPlaces } from '../image/pull-plan.js';
import type { Logger } from '../utils/log.js';

/** What a loader read: where nodes pull from, and every file and directory it read or listed. */
export interface LoadedPullConfig {
  readonly places: PullPlaces;
  readonly files: readonly string[];
}

/** Files are looked at no more often than this: a scrape storm stats them once. */
const LOOK_AGAIN_MS = 2_000;
/**
 * A scrape waits this long at most for a look or a reading under way, then goes on with the last
 * good configuration: a file system that hangs (a stuck network mount) must not hang the scrapes.
 */
export const LOOK_WAIT_MS = 1_000;

/** Size, times and inode of each file: any edit, rename-over or ConfigMap swap changes one of them. */
async function fingerprint(files: readonly string[]): Promise<string> {
  const parts = await Promise.all(
    files.map(async (file) => {
      try {
        const s = await stat(file, { bigint: true });
        return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
      } catch (error) {
        return `missing:${(error as NodeJS.ErrnoException).code ?? ''}`;
      }
    }),
  );
  return parts.join('\n');
}

export class NodePullConfig {
  private loaded: LoadedPullConfig;
  private seen: string;
  private lookedAt: number;
  private looking: Promise<PullPlaces> | undefined;
  private lastProblem: string | undefined;

  private constructor(
    private readonly flag: string,
    private readonly path: string,
    private readonly load: () => Promise<LoadedPullConfig>,
    private readonly logger: Logger,
    private readonly now: () => number,
    first: LoadedPullConfig,
    seen: string,
  ) {
    this.loaded = first;
    this.seen = seen;
    this.lookedAt = now();
  }

  /** Reads it the first time; a problem is a FlagError naming `flag`. */
  static async start(
    flag: string,
    path: string,
    load: () => Promise<LoadedPullConfig>,
    logger: Logger,
    now: () => number = Date.now,
  ): Promise<NodePullConfig> {
    let first: LoadedPullConfig;
    try {
      first = await load();
    } catch (error) {
      throw new FlagError(flag, (error as Error).message);
    }
    const config = new NodePullConfig(flag, path, load, logger, now, first, await fingerprint(first.files));
    logger.info('node pull configuration read', { flag, path, files: first.files.length });
    return config;
  }

  /** The places as configured now, read again first if a file changed. */
  async current(): Promise<PullPlaces> {
    // Askers while a look is under way wait for it (a while): one scrape's answer is not older than another's.
    if (!this.looking) {
      if (this.now() - this.lookedAt < LOOK_AGAIN_MS) return this.loaded.places;
      this.looking = this.lookAgain().finally(() => {
        this.looking = undefined;
      });
    }
    const places = await beforeDeadline(this.looking, Date.now() + LOOK_WAIT_MS);
    return places === TIMED_OUT ? this.loaded.places : places;
  }

  private async lookAgain(): Promise<PullPlaces> {
    this.lookedAt = this.now();
    const seen = await fingerprint(this.loaded.files);
    if (seen === this.seen) return this.loaded.places;
    try {
      const loaded = await this.load();
      this.loaded = loaded;
      // Taken after reading: a file written while it was read is read again next time.
      this.seen = await fingerprint(loaded.files);
      this.lastProblem = undefined;
      this.logger.info('node pull configuration read again', { flag: this.flag, path: this.path, files: loaded.files.length });
    } catch (error) {
      // Keep the last good one: a half-written file must not change where nodes are thought to pull.
      this.seen = seen;
      const problem = (error as Error).message;
      if (problem !== this.lastProblem) {
        this.logger.error('node pull configuration cannot be read; keeping the last good one', { flag: this.flag, path: this.path, reason: problem });
        this.lastProblem = problem;
      }
    }
    return this.loaded.places;
  }
}
