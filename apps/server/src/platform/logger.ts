/** The process logger (pino, which Fastify uses for request logs). One JSON object per line on stdout. */
import type { FastifyBaseLogger } from 'fastify';
import { pino, type DestinationStream } from 'pino';
import type { Config } from '../config.js';

export function createLogger(config: Pick<Config, 'LOG_LEVEL'>, destination?: DestinationStream): FastifyBaseLogger {
  const options = { level: config.LOG_LEVEL, base: { service: 'yika-server' } };
  return destination ? pino(options, destination) : pino(options);
}
