/** A loopback API server holding `count` realistic Deployments (~10 KB each), and a client config for it: what a listing under test reads. */
import { KubeConfig } from '@kubernetes/client-node';
import { startKubeApi, type KubeApi } from './kube-api.js';
import { realisticDeployment } from './objects.js';

export async function kubeApiWithDeployments(count: number): Promise<{ kube: KubeApi; kubeConfig: KubeConfig }> {
  const kube = await startKubeApi();
  kube.set('Deployment', Array.from({ length: count }, (_, i) => realisticDeployment('ns', `d${i}`, { containers: [{ name: 'c', image: `app:${i}` }] })));
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kube.kubeconfigPath);
  return { kube, kubeConfig };
}
