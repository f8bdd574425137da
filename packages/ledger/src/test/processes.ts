/** Starting ledger writer processes for the multi-process and crash tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { WorkloadAccounts, WorkloadPlan } from './workload.js';

const workerScript = fileURLToPath(new URL('./writer-process.ts', import.meta.url));

export interface WorkerAck {
  id: string;
  result: string;
  amount: bigint | null;
}

export interface WorkerHandle {
  child: ChildProcess;
  acks: WorkerAck[];
  errors: string[];
  /** Resolves with the exit code (or signal name) once the process ends. */
  exited: Promise<number | string>;
  done: () => boolean;
}

export function startWriterProcess(config: {
  databaseUrl?: string;
  schema?: string;
  dataDir?: string;
  accounts: WorkloadAccounts;
  plan: WorkloadPlan;
}): WorkerHandle {
  const child = spawn(process.execPath, ['--conditions=@yika/source', '--import', 'tsx', workerScript], {
    env: { ...process.env, YIKA_WORKER: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const acks: WorkerAck[] = [];
  const errors: string[] = [];
  let finished = false;
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('R ')) {
      const [, id, result, amount] = line.split(' ');
      acks.push({ id: id!, result: result!, amount: amount ? BigInt(amount) : null });
    } else if (line === 'DONE') finished = true;
    else if (line.startsWith('ERROR')) errors.push(line);
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => {
      if (code !== 0 && signal === null && stderr) errors.push(stderr.slice(0, 2_000));
      resolve(signal ?? code ?? -1);
    }),
  );
  return { child, acks, errors, exited, done: () => finished };
}
