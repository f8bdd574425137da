/** The bank simulator process: listens on BANK_SIM_HOST:BANK_SIM_PORT (127.0.0.1:3100) until SIGTERM/SIGINT. */
import type { FastifyInstance } from 'fastify';
import { buildBankSim, ConfigError, resolveProcessConfig } from './index.js';

function start(): { app: FastifyInstance; port: number; host: string } | null {
  try {
    const { port, host } = resolveProcessConfig();
    return { app: buildBankSim(), port, host };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return null;
  }
}

const started = start();
if (started === null) {
  process.exitCode = 1;
} else {
  const { app, port, host } = started;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      // close() runs the onClose hook, which cancels pending payment outcomes and callback retries.
      app.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
  await app.listen({ host, port });
}
