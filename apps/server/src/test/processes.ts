/** Running the server's entry points (main.ts, cli.ts) as real child processes, from TypeScript sources. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openDatabase, type Database } from '@yika/db';
import { createTestSchema, testDatabaseUrl } from '@yika/db/testing';

export const repositoryRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const sourceDir = fileURLToPath(new URL('../', import.meta.url));

/**
 * Where a child process keeps its data: PGlite files in a temp dir, or, when TEST_DATABASE_URL is set,
 * a fresh PostgreSQL schema selected through the URL's `options` parameter.
 */
export interface ChildDatabase {
  env: Record<string, string>;
  /** Opens the same database from the test process (PGlite: only while no child holds it). */
  open(): Promise<Database>;
  dispose(): Promise<void>;
}

export async function childDatabase(): Promise<ChildDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), 'yika-server-test-'));
  const url = testDatabaseUrl();
  if (!url) {
    return {
      env: { DATA_DIR: dataDir },
      open: () => openDatabase({ dataDir: join(dataDir, 'pglite') }),
      dispose: () => rm(dataDir, { recursive: true, force: true }),
    };
  }
  const { schema, drop } = await createTestSchema(url);
  const withSchema = new URL(url);
  withSchema.searchParams.set('options', `-c search_path=${schema}`);
  return {
    env: { DATA_DIR: dataDir, DATABASE_URL: withSchema.toString() },
    open: () => openDatabase({ url, schema, poolSize: 1 }),
    async dispose() {
      await drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The environment of a child: the parent's, minus anything that would point it at another database. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = { ...process.env };
  for (const name of ['DATABASE_URL', 'DATA_DIR', 'PORT', 'HOST', 'NODE_ENV', 'SEED_DEMO_DATA', 'LOG_LEVEL'])
    delete base[name];
  return { ...base, NODE_ENV: 'test', ...env };
}

function spawnSource(entry: string, args: readonly string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--conditions=@yika/source', '--import', 'tsx', join(sourceDir, entry), ...args], {
    cwd: repositoryRoot,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: readonly string[], env: Record<string, string>): Promise<CliResult> {
  const child = spawnSource('cli.ts', args, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface ServerProcess {
  child: ChildProcess;
  /** Parsed JSON log lines so far (non-JSON lines are kept as `{ msg: line }`). */
  lines: { msg?: string; [key: string]: unknown }[];
  stderr: () => string;
  /** Resolves with the first log line that matches. */
  waitForLine(
    match: (line: { msg?: string; [key: string]: unknown }) => boolean,
    timeoutMs?: number,
  ): Promise<{ msg?: string; [key: string]: unknown }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startServer(env: Record<string, string>): ServerProcess {
  const child = spawnSource('main.ts', [], { HOST: '127.0.0.1', PORT: '0', ...env });
  const lines: ServerProcess['lines'] = [];
  const waiters: {
    match: (line: ServerProcess['lines'][number]) => boolean;
    resolve: (line: ServerProcess['lines'][number]) => void;
  }[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: ServerProcess['lines'][number];
    try {
      line = JSON.parse(text) as ServerProcess['lines'][number];
    } catch {
      line = { msg: text };
    }
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.match(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    waitForLine(match, timeoutMs = 30_000) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          match,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        void exited.then(({ code, signal }) =>
          reject(new Error(`server exited (${code ?? signal}) before the line; stderr: ${stderr}`)),
        );
      });
    },
  };
}
