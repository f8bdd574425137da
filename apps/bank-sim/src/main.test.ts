/** main.ts as a real process: a bad variable stops it with one line; SIGTERM stops it cleanly. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

function startMain(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--conditions=@yika/source', '--import', 'tsx', MAIN], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

describe('main.ts as a process', () => {
  it('stops with one line naming the variable when a value is bad', async () => {
    const bank = startMain({ BANK_SIM_FAILURE_RATE: 'often' });
    expect(await bank.exited).toBe(1);
    expect(bank.stderr()).toBe(
      'Configuration error: BANK_SIM_FAILURE_RATE must be a number between 0 and 1 (got "often")\n',
    );
  });

  it('serves on BANK_SIM_PORT and exits 0 on SIGTERM', async () => {
    const bank = startMain({ BANK_SIM_PORT: '0' });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line: ${bank.stdout()}`)), 15_000);
        bank.child.stdout.on('data', () => {
          const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(bank.stdout());
          if (match?.[1] === undefined) return;
          clearTimeout(timer);
          resolve(match[1]);
        });
      });
      expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
      bank.child.kill('SIGTERM');
      expect(await bank.exited).toBe(0);
    } finally {
      bank.child.kill('SIGKILL');
    }
  });
});
