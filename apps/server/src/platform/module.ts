/**
 * What a domain module gives the app: a plugin of routes registered under `/v1`. The plugin receives its
 * dependencies as options (never via globals), so a test can build the app around a throwaway database.
 */
import type { Database } from '@yika/db';
import type { Ledger } from '@yika/ledger';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Config } from '../config.js';
import type { Services } from '../services.js';

export interface ModuleContext {
  config: Config;
  db: Database;
  ledger: Ledger;
  /** The domain services (services.ts): modules reach each other only through these. */
  services: Services;
}

export interface AppModule {
  /** Short lower-case name, e.g. `wallet`; also the plugin name in Fastify's logs. */
  name: string;
  /** Registers the module's routes; paths are relative to `/v1`. */
  routes: FastifyPluginAsyncZod<ModuleContext>;
}

export const API_PREFIX = '/v1';
