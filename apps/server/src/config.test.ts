import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, configReference, configReferenceMarkdown, loadConfig } from './config.js';

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected a configuration error');
}

describe('config', () => {
  it('has a default for everything, so an empty environment starts the server with PGlite', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 3000,
      HOST: '0.0.0.0',
      DATA_DIR: './.data',
      LOG_LEVEL: 'info',
      BODY_LIMIT_BYTES: 1_048_576,
      RATE_LIMIT_MAX: 300,
      TRUST_PROXY: false,
      SHUTDOWN_TIMEOUT_MS: 10_000,
      SEED_DEMO_DATA: true,
      NODE_ENV: 'development',
    });
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it('parses numbers, booleans, URLs and proxy settings from their text', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://yika:secret@db.internal:5432/yika',
      TRUST_PROXY: '10.0.0.0/8, 127.0.0.1',
      SEED_DEMO_DATA: 'false',
      RATE_LIMIT_MAX: '0',
    });
    expect(config.PORT).toBe(8080);
    expect(config.DATABASE_URL).toBe('postgres://yika:secret@db.internal:5432/yika');
    expect(config.TRUST_PROXY).toEqual(['10.0.0.0/8', '127.0.0.1']);
    expect(config.SEED_DEMO_DATA).toBe(false);
    expect(config.RATE_LIMIT_MAX).toBe(0);
    expect(loadConfig({ TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ PORT: '' }).PORT).toBe(3000);
  });

  it('turns demo data off by default in production, unless asked for', () => {
    const keys = {
      DATA_ENCRYPTION_KEYS: `k1:${'A'.repeat(43)}=`,
      DATA_INDEX_KEY: 'B'.repeat(44),
      BANK_CALLBACK_SECRET: 'a-bank-secret',
    };
    expect(loadConfig({ NODE_ENV: 'production', ...keys }).SEED_DEMO_DATA).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', SEED_DEMO_DATA: 'true', ...keys }).SEED_DEMO_DATA).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', ...keys }).BANK_SIM_SPAWN).toBe(false);
    expect(loadConfig({}).BANK_SIM_SPAWN).toBe(true);
  });

  it('refuses the public development bank callback secret in production', () => {
    const keys = { DATA_ENCRYPTION_KEYS: `k1:${'A'.repeat(43)}=`, DATA_INDEX_KEY: 'B'.repeat(44) };
    expect(configError({ NODE_ENV: 'production', ...keys })).toBe(
      'Configuration error: BANK_CALLBACK_SECRET must be set when NODE_ENV=production (the development value is public)',
    );
  });

  it('refuses a no-PIN limit for payment codes above the step-up threshold', () => {
    expect(configError({ PAYMENT_CODE_NO_PIN_LIMIT_FEN: '600000', STEP_UP_THRESHOLD_FEN: '500000' })).toBe(
      'Configuration error: PAYMENT_CODE_NO_PIN_LIMIT_FEN must not exceed STEP_UP_THRESHOLD_FEN (500000)',
    );
  });

  it('names the variable, what it must be and the bad value, in one line', () => {
    expect(configError({ PORT: 'abc' })).toBe(
      'Configuration error: PORT must be an integer between 0 and 65535 (got "abc")',
    );
    expect(configError({ PORT: '70000' })).toBe(
      'Configuration error: PORT must be an integer between 0 and 65535 (got "70000")',
    );
    expect(configError({ LOG_LEVEL: 'loud' })).toBe(
      'Configuration error: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
    );
    expect(configError({ SEED_DEMO_DATA: 'maybe' })).toBe(
      'Configuration error: SEED_DEMO_DATA must be true or false (got "maybe")',
    );
    expect(configError({ TRUST_PROXY: 'everyone' })).toMatch(/^Configuration error: TRUST_PROXY must be/);
  });

  it('never echoes a database URL, which may hold a password', () => {
    const message = configError({ DATABASE_URL: 'mysql://root:hunter2@db/yika' });
    expect(message).toBe('Configuration error: DATABASE_URL must be a postgres:// or postgresql:// URL');
    expect(message).not.toContain('hunter2');
  });

  it('reports every bad variable, one line each', () => {
    const lines = configError({ PORT: '-1', BODY_LIMIT_BYTES: '1kb' }).split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^Configuration error: PORT /);
    expect(lines[1]).toMatch(/^Configuration error: BODY_LIMIT_BYTES /);
  });

  it('documents every variable it reads, with its default', () => {
    const names = configReference.map((row) => row.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'PORT',
        'HOST',
        'DATABASE_URL',
        'DATA_DIR',
        'LOG_LEVEL',
        'BODY_LIMIT_BYTES',
        'RATE_LIMIT_MAX',
        'TRUST_PROXY',
        'SHUTDOWN_TIMEOUT_MS',
        'SEED_DEMO_DATA',
      ]),
    );
    expect(configReference.find((row) => row.name === 'PORT')?.default).toBe('3000');
    expect(configReference.find((row) => row.name === 'DATABASE_URL')?.default).toBeUndefined();
    for (const row of configReference) expect(row.description.length).toBeGreaterThan(10);
    expect(configReferenceMarkdown().split('\n')).toHaveLength(configReference.length + 2);
  });

  it('is documented in the README exactly as configReference describes it', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const table = /<!-- config:start -->\n([\s\S]*?)\n<!-- config:end -->/.exec(readme)?.[1];
    expect(table, 'README.md has the config table between its markers').toBeDefined();
    expect(table).toBe(configReferenceMarkdown());
  });
});
