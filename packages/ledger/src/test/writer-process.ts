/**
 * A ledger writer as its own process, for the multi-process and crash tests. Configuration arrives as JSON in
 * YIKA_WORKER; each acknowledged result leaves as one line on stdout: `R <id> <result> <amount>`.
 */
import { openDatabase } from '@yika/db';
import { Ledger } from '../ledger.js';
import { planSteps, runWorkload, type WorkloadAccounts, type WorkloadPlan } from './workload.js';

interface WorkerConfig {
  databaseUrl?: string;
  schema?: string;
  dataDir?: string;
  accounts: WorkloadAccounts;
  plan: WorkloadPlan;
}

const config = JSON.parse(process.env.YIKA_WORKER ?? '{}') as WorkerConfig;
const db = await openDatabase({ url: config.databaseUrl, schema: config.schema, dataDir: config.dataDir, poolSize: 4 });
const ledger = new Ledger(db);
const lines: string[] = [];
const flush = () => {
  if (lines.length > 0) process.stdout.write(lines.splice(0).join('\n') + '\n');
};
const timer = setInterval(flush, 20);
try {
  await runWorkload(ledger, planSteps(config.accounts, config.plan), config.plan.concurrency, (acknowledged) => {
    for (const { input, result } of acknowledged) lines.push(`R ${input.id} ${result.result} ${result.amount ?? ''}`);
  });
  flush();
  process.stdout.write('DONE\n');
} catch (error) {
  flush();
  process.stdout.write(`ERROR ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  clearInterval(timer);
  await ledger.close();
  await db.close();
}
