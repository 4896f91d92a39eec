/**
 * How deploy/ runs the exporter: the Node flags (NODE_OPTIONS) and the other literal environment
 * of its container, so that memory tests and the benchmark run it as shipped, from one source.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadAllYaml } from '@kubernetes/client-node';

const DEPLOYMENT = fileURLToPath(new URL('../../deploy/03-deployment.yaml', import.meta.url));

export interface DeployedRuntime {
  /** NODE_OPTIONS, split into flags. */
  readonly nodeArgs: readonly string[];
  /** The container's other environment variables with literal values. */
  readonly env: Readonly<Record<string, string>>;
}

export function deployedRuntime(): DeployedRuntime {
  const [deployment] = loadAllYaml(readFileSync(DEPLOYMENT, 'utf8')) as Array<{
    spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> } } };
  }>;
  const env: Record<string, string> = {};
  for (const { name, value } of deployment?.spec.template.spec.containers[0]?.env ?? []) if (value !== undefined) env[name] = value;
  const { NODE_OPTIONS = '', ...rest } = env;
  return { nodeArgs: NODE_OPTIONS.split(' ').filter((flag) => flag !== ''), env: rest };
}
