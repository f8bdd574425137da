/**
 * Which merchants the signed-in user works for (`GET /v1/me/merchants`) and which one the portal acts for.
 * The choice travels as `x-yika-merchant-id` on every merchant call (see api.ts).
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { call, portal, savedMerchantId, setActiveMerchant } from './api.js';
import type { Membership } from './types.js';

export type { Membership };
export type StaffRole = Membership['role'];
export type MerchantStatus = Membership['status'];

export type MembershipState =
  | { status: 'loading' }
  | { status: 'error'; error: unknown }
  | { status: 'ready'; memberships: Membership[]; active: Membership | null };

interface MembershipContextValue {
  state: MembershipState;
  reload: () => Promise<void>;
  choose: (merchantId: string) => void;
}

const MembershipContext = createContext<MembershipContextValue | null>(null);

/** The remembered merchant if the user still belongs to it, else the first approved one, else the first. */
function pick(memberships: Membership[], wanted: string | null): Membership | null {
  return (
    memberships.find((membership) => membership.merchantId === wanted) ??
    memberships.find((membership) => membership.status === 'approved') ??
    memberships[0] ??
    null
  );
}

export function MembershipProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<MembershipState>({ status: 'loading' });

  const reload = useCallback(async () => {
    try {
      const { items } = await call(portal.GET('/v1/me/merchants'));
      const active = pick(items, savedMerchantId());
      setActiveMerchant(active?.merchantId ?? null);
      setState({ status: 'ready', memberships: items, active });
    } catch (error) {
      setState({ status: 'error', error });
    }
  }, []);

  const choose = useCallback((merchantId: string) => {
    setState((current) => {
      if (current.status !== 'ready') return current;
      const active = current.memberships.find((membership) => membership.merchantId === merchantId);
      if (!active) return current;
      setActiveMerchant(active.merchantId);
      return { ...current, active };
    });
  }, []);

  useEffect(() => {
    void reload();
  }, [reload]);

  const value = useMemo(() => ({ state, reload, choose }), [state, reload, choose]);
  return <MembershipContext.Provider value={value}>{children}</MembershipContext.Provider>;
}

export function useMemberships(): MembershipContextValue {
  const value = useContext(MembershipContext);
  if (!value) throw new Error('useMemberships outside MembershipProvider');
  return value;
}

/** The membership the portal acts for; pages behind the approved-merchant guard only. */
export function useActiveMembership(): Membership {
  const { state } = useMemberships();
  if (state.status !== 'ready' || !state.active) throw new Error('useActiveMembership without an active merchant');
  return state.active;
}

/** What each role may open (contract: owner everything; manager all but keys, webhooks, staff; cashier little). */
export type Area =
  'dashboard' | 'transactions' | 'refunds' | 'qr' | 'cashier' | 'settlements' | 'apiKeys' | 'webhooks' | 'team';

const AREAS: Record<StaffRole, ReadonlySet<Area>> = {
  owner: new Set<Area>([
    'dashboard',
    'transactions',
    'refunds',
    'qr',
    'cashier',
    'settlements',
    'apiKeys',
    'webhooks',
    'team',
  ]),
  manager: new Set<Area>(['dashboard', 'transactions', 'refunds', 'qr', 'cashier', 'settlements', 'team']),
  cashier: new Set<Area>(['transactions', 'qr', 'cashier']),
};

export function may(role: StaffRole, area: Area): boolean {
  return AREAS[role].has(area);
}
