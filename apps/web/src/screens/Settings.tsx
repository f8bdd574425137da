/** "Me": account, security (PIN, authenticator, passkeys, devices), language, sign out. */
import { Button, Dialog, Form, Image, Input, List, Radio, Space, Toast } from 'antd-mobile';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { Empty, LoadError, Loading, Page } from '../components/common.js';
import { PinInput } from '../components/PinInput.js';
import { setLanguage } from '../i18n.js';
import { call, errorMessage, yika } from '../lib/api.js';
import { useFormat } from '../lib/format.js';
import { displayPhone } from '../lib/phone.js';
import { useAsync } from '../lib/use-async.js';
import { useProfile, useSession } from '../session.js';

export function Settings() {
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const profile = useProfile();
  const { signOut } = useSession();

  async function confirmSignOut() {
    const confirmed = await Dialog.confirm({
      content: t('settings.signOutConfirm'),
      confirmText: t('settings.signOut'),
      cancelText: t('common.cancel'),
    });
    if (!confirmed) return;
    await signOut();
    await navigate('/login', { replace: true });
  }

  return (
    <Page title={t('settings.title')} testId="screen-settings" back={false}>
      <List header={t('settings.account')}>
        <List.Item extra={<span data-testid="settings-phone">{displayPhone(profile.phone)}</span>}>
          {t('settings.phone')}
        </List.Item>
        <List.Item
          extra={<span data-testid="settings-class">{t('settings.classLabel', { class: profile.accountClass })}</span>}
        >
          {t('settings.accountClass')}
        </List.Item>
        <List.Item
          onClick={() => void navigate('/settings/kyc')}
          extra={
            <span data-testid="settings-kyc-state">
              {profile.kycVerified ? t('settings.kycDone') : t('settings.kycTodo')}
            </span>
          }
          data-testid="settings-kyc"
        >
          {t('settings.kyc')}
        </List.Item>
        <List.Item onClick={() => void navigate('/cards')} data-testid="settings-cards">
          {t('cards.title')}
        </List.Item>
      </List>
      <List header={t('settings.security')}>
        <List.Item
          onClick={() => void navigate(profile.pinSet ? '/settings/pin' : '/pin/setup')}
          extra={
            <span data-testid="settings-pin-state">
              {profile.pinSet ? t('settings.pinSet') : t('settings.pinNotSet')}
            </span>
          }
          data-testid="settings-pin"
        >
          {t('settings.pin')}
        </List.Item>
        <List.Item
          onClick={() => void navigate('/settings/totp')}
          extra={
            <span data-testid="settings-totp-state">
              {profile.totpEnabled ? t('settings.totpOn') : t('settings.totpOff')}
            </span>
          }
          data-testid="settings-totp"
        >
          {t('settings.totp')}
        </List.Item>
        <List.Item
          onClick={() => void navigate('/settings/passkeys')}
          extra={t('settings.passkeyCount', { count: profile.passkeyCount })}
          data-testid="settings-passkeys"
        >
          {t('settings.passkey')}
        </List.Item>
        <List.Item onClick={() => void navigate('/settings/devices')} data-testid="settings-devices">
          {t('settings.devices')}
        </List.Item>
        <List.Item onClick={() => void navigate('/settings/freeze')} data-testid="settings-freeze">
          {t('settings.freeze')}
        </List.Item>
      </List>
      <List header={t('settings.language')}>
        <List.Item>
          <Radio.Group
            value={i18n.language === 'en' ? 'en' : 'zh-CN'}
            onChange={(value) => void setLanguage(value === 'en' ? 'en' : 'zh-CN')}
          >
            <Space>
              <Radio value="zh-CN" data-testid="settings-language-zh">
                中文
              </Radio>
              <Radio value="en" data-testid="settings-language-en">
                English
              </Radio>
            </Space>
          </Radio.Group>
        </List.Item>
      </List>
      <div className="page-actions">
        <Button
          block
          color="danger"
          fill="outline"
          onClick={() => void confirmSignOut()}
          data-testid="settings-sign-out"
        >
          {t('settings.signOut')}
        </Button>
      </div>
    </Page>
  );
}

export function ChangePin() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [oldPin, setOldPin] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [resetKey, setResetKey] = useState(0);

  async function submit(pin: string) {
    if (oldPin === null) {
      setOldPin(pin);
      setResetKey((key) => key + 1);
      return;
    }
    try {
      await call(yika.POST('/v1/me/pin/change', { body: { oldPin, newPin: pin } }));
      Toast.show({ content: t('pin.changed'), icon: 'success' });
      await navigate('/settings', { replace: true });
    } catch (caught) {
      setOldPin(null);
      setError(errorMessage(t, caught));
      setResetKey((key) => key + 1);
    }
  }

  return (
    <Page title={t('pin.changeTitle')} testId="screen-change-pin" back="/settings">
      <h2 className="section-title" data-testid="change-pin-prompt">
        {oldPin === null ? t('pin.old') : t('pin.new')}
      </h2>
      {oldPin !== null && <p className="muted">{t('pin.setHint')}</p>}
      <PinInput
        testId="change-pin-input"
        label={oldPin === null ? t('pin.old') : t('pin.new')}
        onFill={(pin) => void submit(pin)}
        error={error}
        resetKey={resetKey}
      />
    </Page>
  );
}

export function Totp() {
  const { t } = useTranslation();
  const profile = useProfile();
  const { refresh } = useSession();
  const [enrolment, setEnrolment] = useState<{ secret: string; qrDataUrl: string } | null>(null);
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function start() {
    setBusy(true);
    setError(null);
    try {
      setEnrolment(await call(yika.POST('/v1/me/totp/enrolment')));
    } catch (caught) {
      setError(errorMessage(t, caught));
    } finally {
      setBusy(false);
    }
  }

  async function confirm() {
    setBusy(true);
    setError(null);
    try {
      await call(yika.POST('/v1/me/totp/enrolment/confirm', { body: { code: code.trim() } }));
      Toast.show({ content: t('totp.enabled'), icon: 'success' });
      setEnrolment(null);
      await refresh();
    } catch (caught) {
      setError(errorMessage(t, caught));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Page title={t('totp.title')} testId="screen-totp" back="/settings">
      {profile.totpEnabled ? (
        <p data-testid="totp-on">{t('totp.alreadyOn')}</p>
      ) : !enrolment ? (
        <div className="page-actions">
          <Button block color="primary" loading={busy} onClick={() => void start()} data-testid="totp-start">
            {t('totp.start')}
          </Button>
        </div>
      ) : (
        <Form
          layout="vertical"
          onFinish={() => void confirm()}
          footer={
            <Button
              block
              type="submit"
              color="primary"
              loading={busy}
              disabled={!/^\d{6}$/.test(code.trim())}
              data-testid="totp-confirm"
            >
              {t('totp.enable')}
            </Button>
          }
        >
          <p className="muted">{t('totp.scan')}</p>
          <Image
            src={enrolment.qrDataUrl}
            width={180}
            height={180}
            className="qr"
            alt="otpauth QR"
            data-testid="totp-qr"
          />
          <p className="secret" data-testid="totp-secret">
            {t('totp.secret')}: <code>{enrolment.secret}</code>
          </p>
          <Form.Item label={t('totp.code')}>
            <Input
              inputMode="numeric"
              maxLength={6}
              value={code}
              onChange={setCode}
              aria-label={t('totp.code')}
              data-testid="totp-code"
            />
          </Form.Item>
        </Form>
      )}
      {error && (
        <p className="form-error" role="alert" data-testid="totp-error">
          {error}
        </p>
      )}
    </Page>
  );
}

/** WebAuthn JSON ↔ ArrayBuffer helpers (base64url), for navigator.credentials.create. */
function fromBase64Url(text: string): ArrayBuffer {
  const base64 = text
    .replace(/-/g, '+')
    .replace(/_/g, '/')
    .padEnd(Math.ceil(text.length / 4) * 4, '=');
  return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0)).buffer;
}
function toBase64Url(buffer: ArrayBuffer): string {
  return btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

interface CreationOptionsJson {
  challenge: string;
  rp: PublicKeyCredentialRpEntity;
  user: { id: string; name: string; displayName: string };
  pubKeyCredParams: PublicKeyCredentialParameters[];
  timeout?: number;
  excludeCredentials?: { id: string; type: 'public-key'; transports?: AuthenticatorTransport[] }[];
  authenticatorSelection?: AuthenticatorSelectionCriteria;
  attestation?: AttestationConveyancePreference;
}

export function Passkeys() {
  const { t } = useTranslation();
  const format = useFormat();
  const { refresh } = useSession();
  const list = useAsync(async () => (await call(yika.GET('/v1/me/passkeys'))).passkeys, []);
  const [busy, setBusy] = useState(false);
  const supported = typeof window.PublicKeyCredential === 'function';

  async function add() {
    setBusy(true);
    try {
      const options = (await call(yika.POST('/v1/me/passkeys/registration-options'))) as unknown as CreationOptionsJson;
      const credential = (await navigator.credentials.create({
        publicKey: {
          ...options,
          challenge: fromBase64Url(options.challenge),
          user: { ...options.user, id: fromBase64Url(options.user.id) },
          excludeCredentials: (options.excludeCredentials ?? []).map((item) => ({
            ...item,
            id: fromBase64Url(item.id),
          })),
        },
      })) as PublicKeyCredential | null;
      if (!credential) throw new Error(t('passkey.cancelled'));
      const response = credential.response as AuthenticatorAttestationResponse;
      await call(
        yika.POST('/v1/me/passkeys', {
          body: {
            response: {
              id: credential.id,
              rawId: toBase64Url(credential.rawId),
              type: 'public-key',
              response: {
                clientDataJSON: toBase64Url(response.clientDataJSON),
                attestationObject: toBase64Url(response.attestationObject),
                transports: response.getTransports(),
              },
              clientExtensionResults: {},
            },
          },
        }),
      );
      Toast.show({ content: t('passkey.added'), icon: 'success' });
      list.reload();
      await refresh();
    } catch (caught) {
      Toast.show({
        content: caught instanceof DOMException ? t('passkey.cancelled') : errorMessage(t, caught),
        icon: 'fail',
      });
    } finally {
      setBusy(false);
    }
  }

  async function remove(id: string) {
    try {
      await call(yika.DELETE('/v1/me/passkeys/{id}', { params: { path: { id } } }));
      list.reload();
      await refresh();
    } catch (caught) {
      Toast.show({ content: errorMessage(t, caught), icon: 'fail' });
    }
  }

  return (
    <Page title={t('passkey.title')} testId="screen-passkeys" back="/settings">
      <p className="muted">{t('passkey.hint')}</p>
      {list.status === 'loading' && <Loading />}
      {list.status === 'error' && <LoadError error={list.error} onRetry={list.reload} />}
      {list.status === 'ready' &&
        (list.data.length === 0 ? (
          <Empty title={t('passkey.empty')} testId="passkeys-empty" />
        ) : (
          <List data-testid="passkey-list">
            {list.data.map((passkey) => (
              <List.Item
                key={passkey.id}
                description={t('passkey.createdAt', { date: format.date(passkey.createdAt) })}
                extra={
                  <Button
                    size="mini"
                    color="danger"
                    fill="outline"
                    onClick={() => void remove(passkey.id)}
                    data-testid="passkey-remove"
                  >
                    {t('passkey.remove')}
                  </Button>
                }
                data-testid="passkey"
              >
                {passkey.credentialId.slice(0, 12)}…
              </List.Item>
            ))}
          </List>
        ))}
      <div className="page-actions">
        {supported ? (
          <Button block color="primary" loading={busy} onClick={() => void add()} data-testid="passkey-add">
            {t('passkey.add')}
          </Button>
        ) : (
          <p className="muted" data-testid="passkey-unsupported">
            {t('passkey.unsupported')}
          </p>
        )}
      </div>
    </Page>
  );
}

export function Devices() {
  const { t } = useTranslation();
  const format = useFormat();
  const navigate = useNavigate();
  const devices = useAsync(async () => (await call(yika.GET('/v1/me/devices'))).devices, []);

  async function revoke(id: string, name: string, current: boolean) {
    const confirmed = await Dialog.confirm({
      content: t('devices.signOutConfirm', { name }),
      confirmText: t('devices.signOut'),
      cancelText: t('common.cancel'),
    });
    if (!confirmed) return;
    try {
      await call(yika.DELETE('/v1/me/devices/{id}', { params: { path: { id } } }));
      Toast.show({ content: t('devices.removed'), icon: 'success' });
      if (current) await navigate('/login', { replace: true });
      else devices.reload();
    } catch (caught) {
      Toast.show({ content: errorMessage(t, caught), icon: 'fail' });
    }
  }

  return (
    <Page title={t('devices.title')} testId="screen-devices" back="/settings">
      {devices.status === 'loading' && <Loading />}
      {devices.status === 'error' && <LoadError error={devices.error} onRetry={devices.reload} />}
      {devices.status === 'ready' &&
        (devices.data.length === 0 ? (
          <Empty />
        ) : (
          <List data-testid="device-list">
            {devices.data.map((device) => (
              <List.Item
                key={device.id}
                data-testid="device"
                description={t('devices.lastSeen', { date: format.dateTime(device.lastSeenAt) })}
                extra={
                  <Button
                    size="mini"
                    fill="outline"
                    onClick={() => void revoke(device.id, device.name, device.current)}
                    data-testid="device-sign-out"
                  >
                    {t('devices.signOut')}
                  </Button>
                }
              >
                {device.name}
                {device.current && <span className="current-badge"> · {t('devices.current')}</span>}
              </List.Item>
            ))}
          </List>
        ))}
    </Page>
  );
}
