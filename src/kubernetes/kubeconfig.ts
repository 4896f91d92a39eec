/** Where the Kubernetes configuration comes from: --kubeconfig, in-cluster, $KUBECONFIG, ~/.kube/config. */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

/** Throws an Error saying what is missing when no configuration names a cluster. */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  const home = join(homedir(), '.kube', 'config');
  if (path) kubeConfig.loadFromFile(path);
  else if (process.env.KUBERNETES_SERVICE_HOST) kubeConfig.loadFromCluster();
  else if (process.env.KUBECONFIG) kubeConfig.loadFromDefault();
  else if (existsSync(home)) kubeConfig.loadFromFile(home);
  // client-node would otherwise invent http://localhost:8080 — which may well be this exporter.
  else throw new Error('no Kubernetes configuration found (use --kubeconfig, run in a cluster, or set $KUBECONFIG or ~/.kube/config)');
  if (!kubeConfig.getCurrentCluster()) throw new Error('the Kubernetes configuration names no current cluster');
  return kubeConfig;
}
