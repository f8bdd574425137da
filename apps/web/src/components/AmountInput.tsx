import { Input } from 'antd-mobile';
import { useTranslation } from 'react-i18next';

/** Yuan as text ("100.00"); the screen turns it into fen with parseYuan, never through a float. */
export function AmountInput(props: {
  value: string;
  onChange: (value: string) => void;
  testId: string;
  invalid?: boolean;
}) {
  const { t } = useTranslation();
  return (
    <div className="amount-input">
      <span className="currency" aria-hidden="true">
        ¥
      </span>
      <Input
        inputMode="decimal"
        placeholder={t('common.amountPlaceholder')}
        value={props.value}
        onChange={(value) => props.onChange(value.replace(/[^\d.]/g, ''))}
        aria-label={t('common.amount')}
        aria-invalid={props.invalid}
        data-testid={props.testId}
      />
    </div>
  );
}
