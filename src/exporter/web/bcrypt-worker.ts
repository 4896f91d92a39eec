/**
 * bcrypt comparisons off the event loop: bcryptjs is plain JavaScript (~50-100 ms of CPU per
 * comparison at cost 10), so on the main thread every comparison delays /healthz, scrapes and the
 * accepting of new connections. One worker thread runs them, one at a time (the caller queues and
 * bounds them, src/exporter/web/basic-auth.ts): at most one core goes to password checks, the other stays
 * with the exporter. The worker is started on the first comparison, shared by every web config
 * (a reload does not start another) and keeps the process alive only while a comparison is pending.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// The worker's code, as a CommonJS script: it runs the same from src/ (tsx, tests) and dist/.
const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptjs);
parentPort.on('message', ({ id, password, hash }) => {
  let ok = false;
  try {
    ok = bcrypt.compareSync(password, hash) === true;
  } catch {
    ok = false; // a malformed hash matches nothing
  }
  parentPort.postMessage({ id, ok });
});
`;

interface Pending {
  readonly resolve: (ok: boolean) => void;
  readonly reject: (error: Error) => void;
}

export class BcryptWorker {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private started = 0;

  /** Comparisons handed to the worker so far (tests and diagnostics). */
  get comparisons(): number {
    return this.started;
  }

  /** Whether `password` matches the bcrypt `hash`; rejects only when the worker itself fails. */
  compare(password: string, hash: string): Promise<boolean> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    this.started++;
    // Keeps the process alive while a comparison is pending, not while the worker is idle.
    if (this.pending.size === 0) worker.ref();
    return new Promise<boolean>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, password, hash });
    });
  }

  private start(): Worker {
    const worker = new Worker(SOURCE, {
      eval: true,
      workerData: { bcryptjs: createRequire(import.meta.url).resolve('bcryptjs') },
      // bcrypt needs a few KB; a small heap keeps the thread's share of the memory limit small.
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    worker.on('message', ({ id, ok }: { id: number; ok: boolean }) => {
      const pending = this.pending.get(id);
      this.pending.delete(id);
      if (this.pending.size === 0) worker.unref();
      pending?.resolve(ok === true);
    });
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const { reject } of this.pending.values()) reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`bcrypt worker exited with code ${code}`)));
    // After the listeners: a 'message' listener refs the worker's port, unref() undoes both.
    worker.unref();
    this.worker = worker;
    return worker;
  }
}

let shared: BcryptWorker | undefined;

/** The process' one bcrypt worker. */
export function bcryptWorker(): BcryptWorker {
  shared ??= new BcryptWorker();
  return shared;
}
