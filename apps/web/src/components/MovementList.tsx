/** Movements of the wallet (history, home): type, counterparty, signed amount, balance after, status. */
import type { Movement } from '@yika/sdk';
import { List, Tag } from 'antd-mobile';
import { useTranslation } from 'react-i18next';
import { useFormat } from '../lib/format.js';

const statusColor = {
  created: 'default',
  processing: 'warning',
  in_review: 'warning',
  succeeded: 'success',
  failed: 'danger',
} as const;

export function MovementList({ movements }: { movements: readonly Movement[] }) {
  const { t } = useTranslation();
  const format = useFormat();
  return (
    <List className="movements" data-testid="movement-list">
      {movements.map((movement) => (
        <List.Item
          key={movement.id}
          data-testid="movement"
          data-type={movement.type}
          data-status={movement.status}
          description={
            <span>
              {format.dateTime(movement.createdAt)}
              {movement.balanceAfter !== null && (
                <span className="balance-after" data-testid="movement-balance-after">
                  {' · '}
                  {t('common.balanceAfter', { amount: format.money(movement.balanceAfter) })}
                </span>
              )}
            </span>
          }
          extra={
            <div className="movement-extra">
              <span className={movement.amount < 0 ? 'amount out' : 'amount in'} data-testid="movement-amount">
                {format.money(movement.amount, true)}
              </span>
              {movement.status !== 'succeeded' && (
                <Tag color={statusColor[movement.status]} fill="outline" data-testid="movement-status">
                  {t(`order.${movement.status}`)}
                </Tag>
              )}
            </div>
          }
        >
          <span data-testid="movement-title">
            {t(`movement.${movement.type}`)}
            {movement.counterparty ? ` · ${movement.counterparty}` : ''}
            {movement.note && (
              <span className="movement-note" data-testid="movement-note">
                {' '}
                “{movement.note}”
              </span>
            )}
          </span>
        </List.Item>
      ))}
    </List>
  );
}
