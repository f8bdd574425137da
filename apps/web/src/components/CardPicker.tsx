import type { Card } from '@yika/sdk';
import { Radio, Space } from 'antd-mobile';
import { useTranslation } from 'react-i18next';
import { cardLabel } from '../lib/wallet.js';

/** One radio per bound card. */
export function CardPicker(props: {
  cards: readonly Card[];
  value: string | null;
  onChange: (id: string) => void;
  label: string;
}) {
  const { i18n } = useTranslation();
  return (
    <Radio.Group value={props.value} onChange={(value) => props.onChange(String(value))}>
      <Space direction="vertical" block className="card-picker" aria-label={props.label}>
        {props.cards.map((card) => (
          <Radio key={card.id} value={card.id} block data-testid="card-option" data-last4={card.last4}>
            {cardLabel(card, i18n.language)}
          </Radio>
        ))}
      </Space>
    </Radio.Group>
  );
}
