/**
 * Configuration: options given to buildBankSim win, then BANK_SIM_* environment variables, then defaults.
 * A bad value is a ConfigError with one line that names the variable, the rule and the value.
 */
import { randomInt } from 'node:crypto';
import { DEFAULT_FAULTS, FAULT_KINDS, FAULT_NAMES, faultValueProblem, type Faults } from './faults.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export const DEFAULT_PORT = 3100;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_API_KEY = 'dev-bank-key';
export const DEFAULT_CALLBACK_SECRET = 'dev-bank-callback-secret';
/** 1,000,000.00 CNY in fen. */
export const DEFAULT_CARD_BALANCE = 100_000_000n;
export const DEFAULT_CALLBACK_RETRY_BASE_MS = 1_000;
export const CALLBACK_RETRY_BASE_MS_MAX = 60_000;
const SEED_MAX = 0xffff_ffff;
const CARD_BALANCE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

export interface BankSimConfig {
  apiKey: string;
  callbackSecret: string;
  cardBalance: bigint;
  faults: Faults;
  seed: number;
  callbackRetryBaseMs: number;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** BANK_SIM_LOG_LEVEL (info): the server starts the simulator beside it and may want it quieter. */
export function resolveLogLevel(env: Env = process.env): string {
  const raw = read(env, 'BANK_SIM_LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(raw)) fail('BANK_SIM_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`, raw);
  return raw;
}

export interface ProcessConfig {
  port: number;
  host: string;
}

type Env = Record<string, string | undefined>;

/** `latencyMs` → `BANK_SIM_LATENCY_MS`. */
export function envName(faultName: keyof Faults): string {
  return `BANK_SIM_${faultName.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase()}`;
}

function fail(name: string, rule: string, raw: unknown): never {
  throw new ConfigError(`Configuration error: ${name} ${rule} (got ${JSON.stringify(raw)})`);
}

/** An empty variable counts as unset, as shells make `FOO=` easy to leave behind. */
function read(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

function readInteger(env: Env, name: string, min: number, max: number): number | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max)
    fail(name, `must be an integer between ${min} and ${max}`, raw);
  return value;
}

function faultsFromEnv(env: Env): Faults {
  const faults: Faults = { ...DEFAULT_FAULTS };
  for (const name of FAULT_NAMES) {
    const variable = envName(name);
    const raw = read(env, variable);
    if (raw === undefined) continue;
    const kind = FAULT_KINDS[name];
    let value: unknown = raw;
    if (kind.type === 'boolean')
      value = raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw;
    else if (/^\s*\d+(\.\d+)?\s*$/.test(raw)) value = Number(raw);
    const problem = faultValueProblem(name, value);
    if (problem !== null) fail(variable, problem, raw);
    Object.assign(faults, { [name]: value });
  }
  return faults;
}

export interface ConfigOverrides {
  apiKey?: string;
  callbackSecret?: string;
  cardBalance?: number | bigint;
  faults?: Partial<Faults>;
  seed?: number;
  callbackRetryBaseMs?: number;
}

export function resolveConfig(overrides: ConfigOverrides = {}, env: Env = process.env): BankSimConfig {
  const faults = faultsFromEnv(env);
  for (const [name, value] of Object.entries(overrides.faults ?? {})) {
    if (!(name in FAULT_KINDS)) fail(`options.faults.${name}`, 'is not a fault', name);
    const problem = faultValueProblem(name as keyof Faults, value);
    if (problem !== null) fail(`options.faults.${name}`, problem, value);
    Object.assign(faults, { [name]: value });
  }

  const cardBalanceRaw = overrides.cardBalance ?? read(env, 'BANK_SIM_CARD_BALANCE');
  let cardBalance = DEFAULT_CARD_BALANCE;
  if (cardBalanceRaw !== undefined) {
    const text = String(cardBalanceRaw).trim();
    if (!/^\d+$/.test(text) || BigInt(text) > CARD_BALANCE_MAX) {
      fail(
        'BANK_SIM_CARD_BALANCE',
        `must be an integer of minor units between 0 and ${CARD_BALANCE_MAX}`,
        cardBalanceRaw,
      );
    }
    cardBalance = BigInt(text);
  }

  const seed = overrides.seed ?? readInteger(env, 'BANK_SIM_SEED', 0, SEED_MAX) ?? randomInt(0, SEED_MAX);
  if (!Number.isInteger(seed) || seed < 0 || seed > SEED_MAX)
    fail('options.seed', `must be an integer between 0 and ${SEED_MAX}`, seed);

  const callbackRetryBaseMs =
    overrides.callbackRetryBaseMs ??
    readInteger(env, 'BANK_SIM_CALLBACK_RETRY_BASE_MS', 0, CALLBACK_RETRY_BASE_MS_MAX) ??
    DEFAULT_CALLBACK_RETRY_BASE_MS;
  if (
    !Number.isInteger(callbackRetryBaseMs) ||
    callbackRetryBaseMs < 0 ||
    callbackRetryBaseMs > CALLBACK_RETRY_BASE_MS_MAX
  ) {
    fail(
      'options.callbackRetryBaseMs',
      `must be an integer between 0 and ${CALLBACK_RETRY_BASE_MS_MAX}`,
      callbackRetryBaseMs,
    );
  }

  const apiKey = overrides.apiKey ?? read(env, 'BANK_SIM_API_KEY') ?? DEFAULT_API_KEY;
  const callbackSecret = overrides.callbackSecret ?? read(env, 'BANK_SIM_CALLBACK_SECRET') ?? DEFAULT_CALLBACK_SECRET;
  if (apiKey.length === 0) fail('BANK_SIM_API_KEY', 'must not be empty', apiKey);
  if (callbackSecret.length === 0) fail('BANK_SIM_CALLBACK_SECRET', 'must not be empty', callbackSecret);

  return { apiKey, callbackSecret, cardBalance, faults, seed, callbackRetryBaseMs };
}

export function resolveProcessConfig(env: Env = process.env): ProcessConfig {
  return {
    port: readInteger(env, 'BANK_SIM_PORT', 0, 65_535) ?? DEFAULT_PORT,
    host: read(env, 'BANK_SIM_HOST') ?? DEFAULT_HOST,
  };
}
