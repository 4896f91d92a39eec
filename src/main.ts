#!/usr/bin/env node
/** Entry point: flags, Kubernetes config, start the server, stop gracefully on SIGTERM/SIGINT. */
import { constants as osConstants } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadCluster, startUp, type Started } from './engine/engine.js';
import { helpText, parseFlags, UsageError, type ParseOutcome } from './flags/config.js';
import { createLogger } from './utils/log.js';
import { VERSION } from './utils/version.js';

/** `check`'s exit code when it crashed: distinct from every verdict (0, 1, 3) and from usage errors (2). */
const CHECK_CRASHED = 4;
/** How long past the last scrape timeout shutdown may take before the process exits regardless. */
const SHUTDOWN_MARGIN_MS = 2000;

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === 'check') {
    // A crash is never a verdict: not 1 (absent), not 0; its own code, whatever throws and wherever.
    process.on('uncaughtException', checkCrashed);
    process.on('unhandledRejection', checkCrashed);
    process.exitCode = await import('./check/run.js').then(({ runCheck }) => runCheck(argv.slice(1))).catch(checkCrashed);
    return;
  }
  let parsed: ParseOutcome;
  try {
    parsed = parseFlags(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  if (parsed.action === 'help') {
    process.stdout.write(helpText());
    return;
  }
  if (parsed.action === 'version') {
    process.stdout.write(`k8s-image-existence-exporter ${VERSION}\n`);
    return;
  }
  const { config } = parsed;
  const { createExporter, checkWebConfigFile, readClientCas, loadKubeConfig } = await exporterModules();
  const logger = createLogger(config.logLevel);
  let started: Started;
  try {
    started = await startUp(config, { logger }, async () => {
      await checkWebConfigFile(config.webConfigFile, config.admission ? 'admission-webhook' : undefined);
      if (config.admission?.clientCaFile !== undefined) await readClientCas(config.admission.clientCaFile);
    });
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  let kubeConfig: KubeConfig;
  try {
    kubeConfig = loadKubeConfig(config.kubeconfig);
  } catch (error) {
    logger.error('cannot load Kubernetes configuration', { reason: (error as Error).message });
    process.exit(1);
  }
  const exporter = createExporter(config, { kubeConfig, logger, registryCaPems: started.registryCaPems, providers: started.providers, nodePullConfig: started.nodePullConfig });
  const port = await exporter.listen();

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn('second signal, exiting now', { signal });
      process.exit(128 + osConstants.signals[signal]);
    }
    stopping = true;
    const started = Date.now();
    const { scrapes, remainingMs } = exporter.inFlight();
    logger.info('shutting down', { signal, scrapesInFlight: scrapes });
    // The scrapes in flight get their answers; nothing may hold the process past their timeouts.
    setTimeout(() => {
      logger.warn('shutdown took too long, exiting now', { ms: Date.now() - started });
      process.exit(0);
    }, remainingMs + SHUTDOWN_MARGIN_MS).unref();
    exporter.close().then(
      ({ scrapesAnswered }) => {
        logger.info('shut down', { scrapesAnswered, ms: Date.now() - started });
        process.exit(0);
      },
      (error: unknown) => {
        logger.error('shutdown failed', { reason: (error as Error)?.message ?? String(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('unhandledRejection', (reason) => {
    logger.error('unhandled rejection', { reason: (reason as Error)?.message ?? String(reason) });
  });
  // Only now: whoever acts on this line (a test, an operator) may signal at once.
  logger.info('listening', { address: config.bindHost ?? '*', port, version: VERSION });
}

/**
 * What the exporter runs on besides the engine: its web server (koa), metrics (prom-client), web
 * configuration, and the cluster side. Imported only here, when the exporter runs, as `check/run.js`
 * is only when `check` does: each command loads its own modules, so `check` starts without these.
 */
async function exporterModules() {
  const [app, webConfig, clientCert, cluster] = await Promise.all([
    import('./exporter/app.js'),
    import('./exporter/web/web-config-load.js'),
    import('./exporter/admission/client-cert.js'),
    loadCluster(),
  ]);
  return { createExporter: app.createExporter, checkWebConfigFile: webConfig.checkWebConfigFile, readClientCas: clientCert.readClientCas, loadKubeConfig: cluster.loadKubeConfig };
}

/**
 * The one line of a `check` that crashed, and its exit code. The error's message is left out (it
 * may quote a manifest, a secret with it); its kind and where it was thrown say enough to report it.
 */
function checkCrashed(error: unknown): never {
  const name = error instanceof Error ? error.name : typeof error;
  const at = error instanceof Error ? /\((.*?:\d+):\d+\)|at (\S+?:\d+):\d+$/m.exec(error.stack ?? '') : null;
  const where = at ? ` at ${at[1] ?? at[2]}` : '';
  process.stderr.write(`check: internal error (${name}${where}), nothing was decided: please report it\n`);
  process.exit(CHECK_CRASHED);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'fatal', reason: (error as Error)?.message ?? String(error) })}\n`);
  process.exit(1);
});
