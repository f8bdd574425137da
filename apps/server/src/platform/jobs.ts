/**
 * Background jobs: each runs every `intervalMs`, one run at a time, errors logged and never fatal.
 * `stop()` waits for runs in progress, so shutdown can flush the ledger after the last job's writes.
 */
import type { FastifyBaseLogger } from 'fastify';

export interface Job {
  name: string;
  intervalMs: number;
  run(): Promise<unknown>;
}

export interface JobRunner {
  stop(): Promise<void>;
}

export function startJobs(jobs: readonly Job[], logger: FastifyBaseLogger): JobRunner {
  let stopped = false;
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<void>>();
  for (const job of jobs) {
    let busy = false;
    const timer = setInterval(() => {
      if (busy || stopped) return;
      busy = true;
      const run = job
        .run()
        .then(
          (result) => logger.debug({ job: job.name, result }, 'job ran'),
          (error: unknown) => logger.error({ job: job.name, err: error }, 'job failed'),
        )
        .finally(() => {
          busy = false;
          running.delete(run);
        });
      running.add(run);
    }, job.intervalMs);
    timer.unref();
    timers.push(timer);
  }
  return {
    async stop() {
      stopped = true;
      for (const timer of timers) clearInterval(timer);
      await Promise.all(running);
    },
  };
}
