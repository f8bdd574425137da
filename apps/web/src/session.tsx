/** Who is signed in: the profile from GET /v1/me, refreshed on demand; a 401 anywhere signs the app out. */
import type { CustomerProfile } from '@yika/sdk';
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiError, call, onUnauthenticated, yika } from './lib/api.js';

export type SessionState =
  | { status: 'loading' }
  | { status: 'signed-out' }
  | { status: 'error'; error: unknown }
  | { status: 'signed-in'; profile: CustomerProfile };

interface SessionContextValue {
  state: SessionState;
  refresh: () => Promise<void>;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<SessionContextValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ status: 'loading' });

  const refresh = useCallback(async () => {
    try {
      const profile = await call(yika.GET('/v1/me'));
      setState({ status: 'signed-in', profile });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) setState({ status: 'signed-out' });
      else setState({ status: 'error', error });
    }
  }, []);

  const signOut = useCallback(async () => {
    try {
      await call(yika.DELETE('/v1/auth/session'));
    } finally {
      setState({ status: 'signed-out' });
    }
  }, []);

  useEffect(() => {
    void refresh();
    return onUnauthenticated(() => setState({ status: 'signed-out' }));
  }, [refresh]);

  const value = useMemo(() => ({ state, refresh, signOut }), [state, refresh, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}

/** The signed-in profile; screens behind the sign-in guard only. */
export function useProfile(): CustomerProfile {
  const { state } = useSession();
  if (state.status !== 'signed-in') throw new Error('useProfile while not signed in');
  return state.profile;
}
