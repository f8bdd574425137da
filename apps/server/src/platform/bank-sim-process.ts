/**
 * Demo mode: `npm start` runs the simulated bank beside the server, as its own process with its own port
 * (the server talks to it over real HTTP, as it would to a bank). Production points BANK_SIM_URL at a
 * real gateway and sets BANK_SIM_SPAWN=false.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface BankSimProcess {
  url: string;
  stop(): Promise<void>;
}

/**
 * The simulator's entry as this server runs: its built `dist/main.js` under `npm start`, its sources when
 * the server itself runs from sources (tests, `node --import tsx`), with the same loader flags.
 */
const fromSources = import.meta.url.endsWith('.ts');
const BANK_SIM_MAIN = fileURLToPath(
  new URL(fromSources ? '../../../bank-sim/src/main.ts' : '../../../bank-sim/dist/main.js', import.meta.url),
);

export async function startBankSim(options: {
  url: string;
  apiKey: string;
  callbackSecret: string;
  timeoutMs?: number;
}): Promise<BankSimProcess> {
  if (!existsSync(BANK_SIM_MAIN))
    throw new Error(`the bank simulator is not built (${BANK_SIM_MAIN}); run npm run build`);
  const url = new URL(options.url);
  const child: ChildProcess = spawn(process.execPath, [...(fromSources ? process.execArgv : []), BANK_SIM_MAIN], {
    env: {
      ...process.env,
      BANK_SIM_HOST: url.hostname,
      BANK_SIM_PORT: url.port || '80',
      BANK_SIM_API_KEY: options.apiKey,
      BANK_SIM_CALLBACK_SECRET: options.callbackSecret,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    const healthy = await fetch(new URL('/healthz', url), { signal: AbortSignal.timeout(1_000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) break;
    if (child.exitCode !== null) throw new Error(`the bank simulator exited with code ${child.exitCode}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('the bank simulator did not become healthy in time');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: url.origin,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
