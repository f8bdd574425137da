/** The bank simulator process: listens on BANK_SIM_PORT (default 3100) until SIGTERM/SIGINT. */
import { buildBankSim } from './index.js';

function readPort(): number | null {
  const raw = process.env.BANK_SIM_PORT || '3100';
  const port = Number(raw);
  if (Number.isInteger(port) && port >= 0 && port <= 65_535) return port;
  process.stderr.write(
    `Configuration error: BANK_SIM_PORT must be an integer between 0 and 65535 (got ${JSON.stringify(raw)})\n`,
  );
  return null;
}

const port = readPort();
if (port === null) {
  process.exitCode = 1;
} else {
  const app = buildBankSim();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      app.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
  await app.listen({ host: process.env.BANK_SIM_HOST || '127.0.0.1', port });
}
