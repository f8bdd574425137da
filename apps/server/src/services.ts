/**
 * The domain services, built once per process and handed to every module as `ModuleContext.services`.
 * Modules use each other only through these (a module never reads another's tables).
 */
import type { Database } from '@yika/db';
import type { Ledger } from '@yika/ledger';
import type { Config } from './config.js';
import { CardsService } from './modules/cards/index.js';
import { IdentityService } from './modules/identity/index.js';
import { MerchantsService, WebhookService } from './modules/merchants/index.js';
import { PaymentCodesService, PaymentsService, ReportingService, SettlementService } from './modules/payments/index.js';
import { RiskService } from './modules/risk/index.js';
import { WalletService } from './modules/wallet/index.js';
import { AuditTrail } from './platform/audit.js';
import { BankGateway } from './platform/bank.js';
import { DataCipher } from './platform/crypto.js';
import type { SmsSender } from './platform/sms.js';

export interface Services {
  identity: IdentityService;
  bank: BankGateway;
  cards: CardsService;
  wallet: WalletService;
  merchants: MerchantsService;
  webhooks: WebhookService;
  payments: PaymentsService;
  paymentCodes: PaymentCodesService;
  /** The risk engine: judges every money movement; its review queue holds money for analysts. Started by main. */
  risk: RiskService;
  settlement: SettlementService;
  reporting: ReportingService;
  cipher: DataCipher;
  /** The audit trail: services record sensitive actions in their own transactions. */
  audit: AuditTrail;
  sms: SmsSender;
}

export interface ServiceDeps {
  config: Config;
  db: Database;
  ledger: Ledger;
  sms: SmsSender;
  /** Where the bank calls back; known once the server listens. Defaults to `PUBLIC_URL` or 127.0.0.1:`PORT`. */
  publicUrl?: () => string;
  /** The clock for identity (codes, locks, sessions); tests move it. */
  now?: () => Date;
  /** Failures of background work that never reaches a request (the risk engine's event writer). */
  onBackgroundError?: (error: unknown) => void;
}

export function buildServices(deps: ServiceDeps): Services {
  const { config, db, sms } = deps;
  const cipher = DataCipher.fromConfig(config);
  const audit = new AuditTrail({ db, cipher });
  const identity = new IdentityService({
    db,
    cipher,
    audit,
    sms,
    limits: { I: config.LIMITS_CLASS_I, II: config.LIMITS_CLASS_II, III: config.LIMITS_CLASS_III },
    webauthn: { rpId: config.WEBAUTHN_RP_ID, rpName: config.WEBAUTHN_RP_NAME, origins: config.WEBAUTHN_ORIGINS },
    policy: {
      sessionIdleMs: config.SESSION_IDLE_DAYS * 86_400_000,
      sessionAbsoluteMs: config.SESSION_ABSOLUTE_DAYS * 86_400_000,
    },
    ...(deps.now ? { now: deps.now } : {}),
    // The wallet is built below (it depends on identity); by the time anyone registers, it exists.
    onRegistered: (customerId) => wallet.openWallet(customerId),
  });
  const bank = new BankGateway({
    baseUrl: config.BANK_SIM_URL,
    apiKey: config.BANK_SIM_API_KEY,
    callbackSecret: config.BANK_CALLBACK_SECRET,
  });
  const cards = new CardsService({ db, bank, cipher, audit });
  const publicUrl = deps.publicUrl ?? (() => config.PUBLIC_URL ?? `http://127.0.0.1:${config.PORT}`);
  // Judges every movement before it moves (ADR 10); start() before serving, stop() before the database closes.
  const risk = new RiskService({
    db,
    ledger: deps.ledger,
    reviewHoldSeconds: config.RISK_REVIEW_HOLD_SECONDS,
    audit,
    ...(deps.onBackgroundError ? { onWriteError: deps.onBackgroundError } : {}),
  });
  const wallet: WalletService = new WalletService({
    db,
    ledger: deps.ledger,
    identity,
    cards,
    bank,
    risk,
    bankCallbackUrl: () => new URL('/v1/bank/callbacks', publicUrl()).toString(),
    bankDeadlineMs: config.BANK_DEADLINE_MS,
    pollAfterMs: config.BANK_POLL_AFTER_MS,
    stepUpThreshold: BigInt(config.STEP_UP_THRESHOLD_FEN),
  });
  // Staff are identity customers, found by phone.
  const merchants = new MerchantsService({
    db,
    ledger: deps.ledger,
    cipher,
    staff: identity,
    allowPrivateNetworks: config.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
    audit,
  });
  const webhooks = new WebhookService({
    db,
    cipher,
    attemptsMax: config.WEBHOOK_ATTEMPTS_MAX,
    retryBaseMs: config.WEBHOOK_RETRY_BASE_MS,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    allowPrivateNetworks: config.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
  });
  const payments = new PaymentsService({ db, ledger: deps.ledger, merchants, wallet, risk });
  // Merchant payments count against the same payment-account limits as transfers and withdrawals.
  wallet.countOutgoing(payments.outgoing);
  wallet.listMovementsFrom(payments.movementsSql);
  // The only holder of the wallet's capability to pay a merchant without the PIN: a verified payment code.
  const paymentCodes = new PaymentCodesService({
    db,
    devices: identity,
    cipher,
    wallet,
    payments,
    merchants,
    capability: wallet.issuePaymentCodeCapability(),
    noPinLimit: BigInt(config.PAYMENT_CODE_NO_PIN_LIMIT_FEN),
    dailyNoPinCap: BigInt(config.PAYMENT_CODE_DAILY_NO_PIN_CAP_FEN),
    timeZone: config.BUSINESS_TIME_ZONE,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const calendar = { timeZone: config.BUSINESS_TIME_ZONE, cutoff: config.SETTLEMENT_CUTOFF };
  // T+1 settlement pays merchants out through the same bank gateway, with its own callback path.
  const settlement = new SettlementService({
    db,
    ledger: deps.ledger,
    merchants,
    bank,
    cipher,
    calendar,
    callbackUrl: () => new URL('/v1/bank/settlement-callbacks', publicUrl()).toString(),
    graceMs: config.SETTLEMENT_GRACE_MS,
    pollAfterMs: config.BANK_POLL_AFTER_MS,
    deadlineMs: config.BANK_DEADLINE_MS,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const reporting = new ReportingService({
    db,
    ledger: deps.ledger,
    merchants,
    calendar,
    ...(deps.now ? { now: deps.now } : {}),
  });
  return {
    identity,
    cipher,
    audit,
    sms,
    bank,
    cards,
    wallet,
    merchants,
    webhooks,
    payments,
    paymentCodes,
    settlement,
    reporting,
    risk,
  };
}
