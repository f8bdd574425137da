import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/** In `npm run dev -w apps/web`, API paths go to the server on :3000; the build is served by the server itself. */
const apiPaths = ['/v1', '/docs', '/openapi.json', '/healthz', '/readyz', '/metrics'];

export default defineConfig({
  plugins: [react()],
  // Workspace packages (the SDK) are used from source: no build step between the SDK and the app.
  resolve: { conditions: ['@yika/source'] },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, target: 'es2022' },
  server: {
    proxy: Object.fromEntries(apiPaths.map((path) => [path, { target: 'http://localhost:3000', changeOrigin: false }])),
  },
});
