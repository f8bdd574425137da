/**
 * Routes the web app already uses but the server's OpenAPI document does not have yet (their modules are
 * being built). Written in openapi-typescript's shape from the route files and issue #3, so the client is
 * typed the same way. `index.ts` merges them UNDER the generated `paths`: as soon as `npm run generate`
 * sees a real route, the generated one wins and the planned one is ignored; delete entries here then.
 */
import type { components } from './schema.js';

type Problem = components['schemas']['Problem'];
type Json<T> = { headers: { [name: string]: unknown }; content: { 'application/json': T } };
type NoContent = { headers: { [name: string]: unknown }; content?: never };
type Errors = {
  400: Json<Problem>;
  401: Json<Problem>;
  403: Json<Problem>;
  404: Json<Problem>;
  409: Json<Problem>;
  422: Json<Problem>;
};
type Params<Path> = { query?: never; header?: never; path: Path; cookie?: never };
type NoParams = { query?: never; header?: never; path?: never; cookie?: never };
/** An operation with a JSON body. */
type Operation<P, Body, Responses> = {
  parameters: P;
  requestBody: { content: { 'application/json': Body } };
  responses: Responses & Errors;
};
/** An operation without a body (GET, DELETE). */
type Read<P, Responses> = { parameters: P; requestBody?: never; responses: Responses & Errors };
type Methods = {
  parameters: NoParams;
  get?: never;
  put?: never;
  post?: never;
  delete?: never;
  options?: never;
  head?: never;
  patch?: never;
  trace?: never;
};
/** A path item: the given operations, `never` for every other method (as openapi-typescript writes it). */
type Path<Operations> = Omit<Methods, keyof Operations> & Operations;
type IdempotentParams = { query?: never; header?: { 'idempotency-key'?: string }; path?: never; cookie?: never };

export interface BankName {
  'zh-CN': string;
  en: string;
}
export interface Card {
  id: string;
  bankCode: string;
  bankName: BankName;
  cardType: 'debit' | 'credit';
  last4: string;
  createdAt: string;
}
export interface CardVerification {
  verificationId: string;
  bankName: BankName;
  cardType: string;
  last4: string;
  expiresAt: string;
}
export interface Balance {
  currency: string;
  available: number;
  held: number;
}
export type OrderStatus = 'created' | 'processing' | 'succeeded' | 'failed';
export interface Order {
  id: string;
  kind: 'top_up' | 'withdrawal';
  cardId: string;
  amount: number;
  currency: string;
  status: OrderStatus;
  failureReason: string | null;
  createdAt: string;
  completedAt: string | null;
}
export interface Transfer {
  id: string;
  payeeMaskedName: string | null;
  amount: number;
  currency: string;
  note: string | null;
  status: 'succeeded';
  createdAt: string;
}
export type MovementType = 'top_up' | 'withdrawal' | 'p2p_out' | 'p2p_in';
export interface Movement {
  id: string;
  type: MovementType;
  /** Signed fen: negative leaves the wallet. */
  amount: number;
  counterparty: string | null;
  status: OrderStatus;
  balanceAfter: number | null;
  createdAt: string;
}
export interface MonthlyBill {
  month: string;
  income: number;
  spending: number;
  byCategory: { category: string; amount: number }[];
}

export interface PlannedPaths {
  '/v1/cards': Path<{ get: Read<NoParams, { 200: Json<{ cards: Card[] }> }> }>;
  '/v1/cards/verifications': Path<{
    post: Operation<
      NoParams,
      { cardNumber: string; phone: string; holderName: string },
      { 201: Json<CardVerification> }
    >;
  }>;
  '/v1/cards/verifications/{verificationId}/confirm': Path<{
    post: Operation<Params<{ verificationId: string }>, { code: string }, { 201: Json<Card> }>;
  }>;
  '/v1/cards/{cardId}': Path<{ delete: Read<Params<{ cardId: string }>, { 204: NoContent }> }>;
  '/v1/wallet': Path<{ get: Read<NoParams, { 200: Json<Balance> }> }>;
  '/v1/wallet/payee-preview': Path<{
    post: Operation<NoParams, { phone: string }, { 200: Json<{ maskedName: string | null }> }>;
  }>;
  '/v1/wallet/transfers': Path<{
    post: Operation<
      IdempotentParams,
      { phone: string; amount: number; note?: string; pin: string },
      { 200: Json<Transfer>; 201: Json<Transfer> }
    >;
  }>;
  '/v1/wallet/top-ups': Path<{
    post: Operation<IdempotentParams, { cardId: string; amount: number }, { 202: Json<Order> }>;
  }>;
  '/v1/wallet/withdrawals': Path<{
    post: Operation<IdempotentParams, { cardId: string; amount: number; pin: string }, { 202: Json<Order> }>;
  }>;
  '/v1/wallet/orders/{orderId}': Path<{ get: Read<Params<{ orderId: string }>, { 200: Json<Order> }> }>;
  '/v1/wallet/movements': Path<{
    get: Read<
      {
        query?: { cursor?: string; limit?: number; type?: MovementType; from?: string; to?: string };
        header?: never;
        path?: never;
        cookie?: never;
      },
      { 200: Json<{ movements: Movement[]; nextCursor: string | null }> }
    >;
  }>;
  '/v1/wallet/bills/{month}': Path<{ get: Read<Params<{ month: string }>, { 200: Json<MonthlyBill> }> }>;
}
