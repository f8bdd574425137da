/**
 * The domain services, built once per process and handed to every module as `ModuleContext.services`.
 * Modules use each other only through these (a module never reads another's tables).
 */
import type { Database } from '@yika/db';
import type { Ledger } from '@yika/ledger';
import type { Config } from './config.js';
import { IdentityService } from './modules/identity/index.js';
import { DataCipher } from './platform/crypto.js';
import type { SmsSender } from './platform/sms.js';

export interface Services {
  identity: IdentityService;
  cipher: DataCipher;
  sms: SmsSender;
}

export interface ServiceDeps {
  config: Config;
  db: Database;
  ledger: Ledger;
  sms: SmsSender;
  /** The clock for identity (codes, locks, sessions); tests move it. */
  now?: () => Date;
}

export function buildServices(deps: ServiceDeps): Services {
  const { config, db, sms } = deps;
  const cipher = DataCipher.fromConfig(config);
  const identity = new IdentityService({
    db,
    cipher,
    sms,
    limits: { I: config.LIMITS_CLASS_I, II: config.LIMITS_CLASS_II, III: config.LIMITS_CLASS_III },
    webauthn: { rpId: config.WEBAUTHN_RP_ID, rpName: config.WEBAUTHN_RP_NAME, origins: config.WEBAUTHN_ORIGINS },
    policy: {
      sessionIdleMs: config.SESSION_IDLE_DAYS * 86_400_000,
      sessionAbsoluteMs: config.SESSION_ABSOLUTE_DAYS * 86_400_000,
    },
    ...(deps.now ? { now: deps.now } : {}),
  });
  return { identity, cipher, sms };
}
