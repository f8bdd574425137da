/** The identity module's problem codes: one factory per code, so each code has one status and title. */
import { DomainError } from '../../platform/errors.js';

export class IdentityError extends DomainError {
  override readonly name: string = 'IdentityError';
}

type Extensions = Record<string, unknown>;

function problem(code: string, status: number, title: string) {
  return (detail: string, extensions?: Extensions) =>
    new IdentityError({ code, status, title, detail, ...(extensions ? { extensions } : {}) });
}

export const identityErrors = {
  phoneInvalid: problem('phone_invalid', 422, 'Invalid mobile number'),
  otpRateLimited: problem('otp_rate_limited', 429, 'Too many codes requested'),
  otpInvalid: problem('otp_invalid', 422, 'Wrong or unknown code'),
  otpExpired: problem('otp_expired', 422, 'Code expired'),
  otpAttemptsExceeded: problem('otp_attempts_exceeded', 422, 'Too many wrong codes'),
  smsUnavailable: problem('sms_unavailable', 503, 'Text messages cannot be sent'),
  unauthenticated: problem('unauthenticated', 401, 'Not signed in'),
  csrfRequired: problem('csrf_required', 403, 'CSRF header missing'),
  pinWeak: problem('pin_weak', 422, 'PIN too easy to guess'),
  pinInvalid: problem('pin_invalid', 422, 'Wrong payment PIN'),
  pinLocked: problem('pin_locked', 423, 'Payment PIN locked'),
  pinNotSet: problem('pin_not_set', 409, 'No payment PIN set'),
  pinAlreadySet: problem('pin_already_set', 409, 'Payment PIN already set'),
  nameInvalid: problem('name_invalid', 422, 'Invalid name'),
  idNumberInvalid: problem('id_number_invalid', 422, 'Invalid resident ID number'),
  kycUnderage: problem('kyc_underage', 422, 'Too young to open a wallet'),
  kycAlreadyVerified: problem('kyc_already_verified', 409, 'Identity already verified'),
  idNumberInUse: problem('id_number_in_use', 409, 'Resident ID number already registered'),
  idNumberMismatch: problem('id_number_mismatch', 422, 'Resident ID number does not match'),
  kycRequired: problem('kyc_required', 403, 'Real-name verification required'),
  accountFrozen: problem('account_frozen', 403, 'Account frozen'),
  accountClosed: problem('account_closed', 403, 'Account closed'),
  frozenByOperations: problem('frozen_by_operations', 403, 'Frozen by the bank'),
  balanceNotZero: problem('balance_not_zero', 409, 'Balance not zero'),
  totpInvalid: problem('totp_invalid', 422, 'Wrong authenticator code'),
  totpNotEnabled: problem('totp_not_enabled', 409, 'No authenticator app enrolled'),
  totpAlreadyEnabled: problem('totp_already_enabled', 409, 'Authenticator app already enrolled'),
  totpEnrolmentMissing: problem('totp_enrolment_missing', 409, 'No authenticator enrolment in progress'),
  passkeyInvalid: problem('passkey_invalid', 422, 'Passkey response not accepted'),
  passkeyNotRegistered: problem('passkey_not_registered', 409, 'No such passkey'),
  stepUpRequired: problem('step_up_required', 401, 'Confirmation required'),
} as const;

/** Every identity problem code with its status, for route error schemas and docs. */
export const identityProblemCodes = Object.fromEntries(
  Object.values(identityErrors).map((make) => {
    const sample = make('');
    return [sample.code, sample.status];
  }),
) as Record<string, number>;
