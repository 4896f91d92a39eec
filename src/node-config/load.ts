/**
 * Reads the nodes' own pull configuration named by a flag. The readers (and smol-toml) are loaded
 * only when a flag names a file: a run without one pays nothing for them.
 */
import type { NodePullConfigFlag } from '../flags/config.js';
import type { LoadedPullConfig } from '../engine/node-pull-config.js';

export async function loadNodePullConfig({ flag, path }: NodePullConfigFlag): Promise<LoadedPullConfig> {
  if (flag === 'containerd-hosts-dir') return (await import('./containerd-hosts-load.js')).loadContainerdHosts(path);
  return (await import('./registries-conf-load.js')).loadRegistriesConf(path);
}
