/**
 * Graceful shutdown, in dependency order: stop taking requests and let in-flight ones finish
 * (`app.close()`), stop background jobs after their current run, then write every queued ledger batch,
 * then close the database, then stop child processes (the demo bank). A second signal, a failing step or
 * the deadline ends the process at once with exit code 1.
 */
export interface Closable {
  close(): Promise<void>;
}

export interface Stoppable {
  stop(): Promise<void>;
}

export interface ShutdownDeps {
  app: Closable;
  jobs?: Stoppable;
  ledger: Closable;
  children?: Stoppable | null;
  db: Closable;
  logger: { info(message: string): void; error(object: object, message: string): void };
  timeoutMs: number;
  exit: (code: number) => void;
}

/** Returns the signal handler. The first call shuts down; any later call forces exit 1. */
export function createShutdown(deps: ShutdownDeps): (reason: string) => Promise<void> {
  let started = false;
  return async (reason) => {
    if (started) {
      deps.logger.info(`${reason} received again: exiting now`);
      deps.exit(1);
      return;
    }
    started = true;
    deps.logger.info(`${reason} received: shutting down (at most ${deps.timeoutMs} ms)`);
    const deadline = setTimeout(() => {
      deps.logger.info(`shutdown took longer than ${deps.timeoutMs} ms: exiting now`);
      deps.exit(1);
    }, deps.timeoutMs);
    try {
      await deps.app.close();
      deps.logger.info('HTTP server closed; in-flight requests finished');
      await deps.jobs?.stop();
      await deps.ledger.close();
      deps.logger.info('ledger writer flushed');
      await deps.db.close();
      deps.logger.info('database closed');
      await deps.children?.stop();
      deps.logger.info('bye');
      deps.exit(0);
    } catch (error) {
      deps.logger.error({ err: error }, 'shutdown failed');
      deps.exit(1);
    } finally {
      clearTimeout(deadline);
    }
  };
}
