/** Shapes of the portal's routes, derived from the generated SDK so they cannot drift from the server. */
import type { components, paths } from '@yika/sdk';

type Json<Response> = Response extends { content: { 'application/json': infer Body } } ? Body : never;

export type MerchantSummary = Json<paths['/v1/merchant/summary']['get']['responses'][200]>;
export type SummaryDay = MerchantSummary['days'][number];

export type Settlement = components['schemas']['Settlement'];
export type SettlementStatus = Settlement['status'];
export type SettlementAccount = components['schemas']['SettlementAccount'];

export type PaymentCodeCharge = components['schemas']['PaymentCodeCharge'];
export type ChargeStatus = PaymentCodeCharge['status'];

export type Store = components['schemas']['MerchantStore'];
export type Member = components['schemas']['MerchantMember'];
export type Membership = Json<paths['/v1/me/merchants']['get']['responses'][200]>['items'][number];

export type PaymentQuery = NonNullable<paths['/v1/merchant/payments']['get']['parameters']['query']>;
export type PaymentRow = Json<paths['/v1/merchant/payments']['get']['responses'][200]>['items'][number];
