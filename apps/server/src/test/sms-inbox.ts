/** Reads one-time codes the way a customer would: from the bank simulator's SMS inbox, over HTTP. */
export async function latestCode(simUrl: string, phone: string): Promise<string> {
  const response = await fetch(`${simUrl}/sms/inbox?to=${encodeURIComponent(phone)}&limit=1`);
  const inbox = (await response.json()) as { messages: { text: string }[] };
  const match = /\b(\d{6})\b/.exec(inbox.messages[0]?.text ?? '');
  if (!match?.[1]) throw new Error(`no code in the inbox of ${phone}`);
  return match[1];
}
