import { describe, expect, it } from 'vitest';
import { buildBankSim } from './index.js';

describe('bank simulator', () => {
  it('reports that it is alive', async () => {
    const app = buildBankSim({ logLevel: false });
    try {
      const response = await app.inject({ method: 'GET', url: '/healthz' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ status: 'ok' });
    } finally {
      await app.close();
    }
  });
});
