/** Every movement, newest first, filtered by type and dates, a page at a time (cursor pagination). */
import type { Movement, MovementType } from '@yika/sdk';
import { Button, DatePicker, Input, Selector } from 'antd-mobile';
import { useCallback, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { Empty, LoadError, Loading, Page } from '../components/common.js';
import { MovementList } from '../components/MovementList.js';
import { fenToJson, parseYuan } from '../lib/money.js';
import { loadMovements, type MovementQuery } from '../lib/wallet.js';

const PAGE_SIZE = 20;
const TYPES: readonly MovementType[] = [
  'top_up',
  'withdrawal',
  'p2p_out',
  'p2p_in',
  'merchant_payment',
  'merchant_refund',
];

type Listing =
  | { status: 'loading' }
  | { status: 'error'; error: unknown }
  | { status: 'ready'; movements: Movement[]; nextCursor: string | null; loadingMore: boolean; moreError: unknown };

/** yyyy-mm-dd in the browser's time zone, from a picked date. */
function isoDate(date: Date): string {
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`;
}

/** The instant a local day starts, `days` after the picked one, in ISO 8601. */
function startOfDay(date: Date, days: number): string {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate() + days).toISOString();
}

export function History() {
  const { t } = useTranslation();
  const [type, setType] = useState<MovementType | null>(null);
  const [from, setFrom] = useState<Date | null>(null);
  const [to, setTo] = useState<Date | null>(null);
  const [picking, setPicking] = useState<'from' | 'to' | null>(null);
  // Amount bounds as typed; applied when the field is left (not on every keystroke).
  const [minText, setMinText] = useState('');
  const [maxText, setMaxText] = useState('');
  const [bounds, setBounds] = useState<{ min: bigint | null; max: bigint | null }>({ min: null, max: null });
  const [listing, setListing] = useState<Listing>({ status: 'loading' });
  const generation = useRef(0);

  const query = useCallback(
    (cursor?: string): MovementQuery => ({
      limit: PAGE_SIZE,
      ...(type ? { type } : {}),
      // The API takes instants; the customer picks days in their own time zone. `to` is exclusive.
      ...(from ? { from: startOfDay(from, 0) } : {}),
      ...(to ? { to: startOfDay(to, 1) } : {}),
      ...(bounds.min !== null ? { minAmount: fenToJson(bounds.min) } : {}),
      ...(bounds.max !== null ? { maxAmount: fenToJson(bounds.max) } : {}),
      ...(cursor ? { cursor } : {}),
    }),
    [type, from, to, bounds],
  );

  const loadFirst = useCallback(() => {
    const mine = ++generation.current;
    setListing({ status: 'loading' });
    loadMovements(query()).then(
      (page) => {
        if (mine === generation.current) setListing({ status: 'ready', ...page, loadingMore: false, moreError: null });
      },
      (error: unknown) => {
        if (mine === generation.current) setListing({ status: 'error', error });
      },
    );
  }, [query]);

  useEffect(loadFirst, [loadFirst]);

  function loadMore() {
    if (listing.status !== 'ready' || !listing.nextCursor) return;
    const mine = generation.current;
    setListing({ ...listing, loadingMore: true, moreError: null });
    loadMovements(query(listing.nextCursor)).then(
      (page) => {
        if (mine !== generation.current) return;
        setListing({
          status: 'ready',
          movements: [...listing.movements, ...page.movements],
          nextCursor: page.nextCursor,
          loadingMore: false,
          moreError: null,
        });
      },
      (error: unknown) => {
        if (mine === generation.current) setListing({ ...listing, loadingMore: false, moreError: error });
      },
    );
  }

  const filtered = type !== null || from !== null || to !== null || bounds.min !== null || bounds.max !== null;
  const applyBounds = () => setBounds({ min: parseYuan(minText), max: parseYuan(maxText) });
  return (
    <Page
      title={t('history.title')}
      testId="screen-history"
      back={false}
      right={
        <Link to="/bill" data-testid="history-bill-link">
          {t('history.monthlyBill')}
        </Link>
      }
    >
      <section className="filters" aria-label={t('history.filterType')}>
        <Selector
          className="type-filter"
          value={[type ?? 'all']}
          onChange={(values) => {
            const picked = values[0];
            setType(!picked || picked === 'all' ? null : picked);
          }}
          options={[
            { label: t('history.all'), value: 'all' },
            ...TYPES.map((value) => ({ label: t(`movement.${value}`), value })),
          ]}
          data-testid="history-type-filter"
        />
        <div className="amount-filters">
          <Input
            inputMode="decimal"
            placeholder={t('history.minAmount')}
            value={minText}
            onChange={setMinText}
            onBlur={applyBounds}
            onEnterPress={applyBounds}
            aria-label={t('history.minAmount')}
            data-testid="history-min-amount"
          />
          <span aria-hidden="true">–</span>
          <Input
            inputMode="decimal"
            placeholder={t('history.maxAmount')}
            value={maxText}
            onChange={setMaxText}
            onBlur={applyBounds}
            onEnterPress={applyBounds}
            aria-label={t('history.maxAmount')}
            data-testid="history-max-amount"
          />
        </div>
        <div className="date-filters">
          <Button size="small" onClick={() => setPicking('from')} data-testid="history-from">
            {t('history.from')}: {from ? isoDate(from) : '—'}
          </Button>
          <Button size="small" onClick={() => setPicking('to')} data-testid="history-to">
            {t('history.to')}: {to ? isoDate(to) : '—'}
          </Button>
          {filtered && (
            <Button
              size="small"
              fill="none"
              color="primary"
              onClick={() => {
                setType(null);
                setFrom(null);
                setTo(null);
                setMinText('');
                setMaxText('');
                setBounds({ min: null, max: null });
              }}
              data-testid="history-clear"
            >
              {t('history.clear')}
            </Button>
          )}
        </div>
      </section>
      <DatePicker
        visible={picking !== null}
        title={picking === 'to' ? t('history.to') : t('history.from')}
        max={new Date()}
        onClose={() => setPicking(null)}
        onConfirm={(value) => (picking === 'to' ? setTo(value) : setFrom(value))}
        confirmText={t('common.confirm')}
        cancelText={t('common.cancel')}
      />
      {listing.status === 'loading' && <Loading testId="history-loading" />}
      {listing.status === 'error' && <LoadError error={listing.error} onRetry={loadFirst} testId="history-error" />}
      {listing.status === 'ready' &&
        (listing.movements.length === 0 ? (
          <Empty testId="history-empty" />
        ) : (
          <>
            <MovementList movements={listing.movements} />
            <div className="list-footer">
              <a className="export-link" href="/v1/wallet/movements.csv" download data-testid="history-export">
                {t('history.export')}
              </a>
              {listing.moreError !== null && <LoadError error={listing.moreError} testId="history-more-error" />}
              {listing.nextCursor ? (
                <Button size="small" loading={listing.loadingMore} onClick={loadMore} data-testid="history-more">
                  {t('history.loadMore')}
                </Button>
              ) : (
                <span className="muted" data-testid="history-end">
                  {t('history.noMore')}
                </span>
              )}
            </div>
          </>
        ))}
    </Page>
  );
}
