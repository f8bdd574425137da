/** The 6-digit payment PIN: antd-mobile's PasscodeInput with the phone's numeric keyboard. */
import { PasscodeInput, Popup } from 'antd-mobile';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';

export function PinInput(props: {
  onFill: (pin: string) => void;
  testId: string;
  label: string;
  error?: string | null;
  resetKey?: number;
}) {
  const [value, setValue] = useState('');
  const [lastReset, setLastReset] = useState(props.resetKey);
  // A new resetKey (e.g. after a wrong PIN) clears the boxes.
  if (props.resetKey !== lastReset) {
    setLastReset(props.resetKey);
    setValue('');
  }
  return (
    <div className="pin-input">
      <PasscodeInput
        length={6}
        seperated
        value={value}
        onChange={setValue}
        onFill={props.onFill}
        error={Boolean(props.error)}
        aria-label={props.label}
        data-testid={props.testId}
      />
      {props.error && (
        <p className="form-error" role="alert" data-testid={`${props.testId}-error`}>
          {props.error}
        </p>
      )}
    </div>
  );
}

/** A bottom sheet asking for the payment PIN before money leaves the wallet. */
export function PinSheet(props: {
  visible: boolean;
  title?: string;
  summary?: string;
  error?: string | null;
  busy?: boolean;
  resetKey?: number;
  onClose: () => void;
  onPin: (pin: string) => void;
}) {
  const { t } = useTranslation();
  return (
    <Popup visible={props.visible} onMaskClick={props.onClose} bodyClassName="pin-sheet" destroyOnClose>
      <div data-testid="pin-sheet" role="dialog" aria-label={t('pin.enter')}>
        <h2 className="sheet-title">{props.title ?? t('pin.enter')}</h2>
        {props.summary && (
          <p className="sheet-summary" data-testid="pin-sheet-summary">
            {props.summary}
          </p>
        )}
        <PinInput
          testId="pin-sheet-input"
          label={t('pin.enterLabel')}
          onFill={props.onPin}
          error={props.error ?? null}
          {...(props.resetKey === undefined ? {} : { resetKey: props.resetKey })}
        />
        {props.busy && <p className="muted center">{t('common.loading')}</p>}
      </div>
    </Popup>
  );
}
